//! How many parts of a long read may wait for the console to take them.
//!
//! The worker reads a warm log cache faster than the console folds what it reads. Unbounded,
//! the parts waiting in the channel held about 15 MB at the end of a 1M-record open (and glibc
//! keeps the memory of the worker's freed buffers), which was most of what the console's peak
//! held beyond the records themselves. Each part sent carries a [`PartTicket`]; the console
//! drops it with the part's message once the part is folded, and the worker waits for room
//! before sending more than [`PARTS_AHEAD`].

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Parts of a long read that may wait for the console at once: enough that the console never
/// waits for the worker (a part is about 10 ms of folding).
pub const PARTS_AHEAD: usize = 8;

/// How long the worker waits for room at most, per part: a console busy for that long (a
/// frame of a huge search) gets the part anyway rather than holding up the worker's other work.
const WAIT_MAX: Duration = Duration::from_secs(2);

/// How often the worker looks at its other work (the console's writes) while it waits.
const WAIT_STEP: Duration = Duration::from_millis(10);

/// Counts the parts sent and not yet taken.
#[derive(Debug, Default)]
pub struct PartGate {
    waiting: Mutex<usize>,
    taken: Condvar,
}

impl PartGate {
    /// A ticket for a part about to be sent (counted until it is dropped).
    pub fn ticket(self: &Arc<Self>) -> PartTicket {
        *self.lock() += 1;
        PartTicket(Some(Arc::clone(self)))
    }

    /// Wait until fewer than [`PARTS_AHEAD`] parts wait, calling `between` every
    /// [`WAIT_STEP`] meanwhile (the worker serves the console's writes there); at most
    /// [`WAIT_MAX`].
    pub fn wait_for_room(&self, mut between: impl FnMut()) {
        let until = Instant::now() + WAIT_MAX;
        let mut waiting = self.lock();
        while *waiting >= PARTS_AHEAD && Instant::now() < until {
            waiting = match self.taken.wait_timeout(waiting, WAIT_STEP) {
                Ok((w, _)) => w,
                Err(poisoned) => poisoned.into_inner().0,
            };
            drop(waiting);
            between();
            waiting = self.lock();
        }
    }

    /// How many parts wait.
    pub fn waiting(&self) -> usize {
        *self.lock()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, usize> {
        // A count only: a panic elsewhere while it was held leaves it usable.
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Held by a part of a long read until the console has taken it: dropped with its message.
/// [`PartTicket::none`] counts nothing (a part made outside a gated worker: tests).
#[derive(Debug, Default)]
pub struct PartTicket(Option<Arc<PartGate>>);

impl PartTicket {
    pub fn none() -> PartTicket {
        PartTicket(None)
    }
}

impl Drop for PartTicket {
    fn drop(&mut self) {
        if let Some(gate) = self.0.take() {
            let mut waiting = gate.lock();
            *waiting = waiting.saturating_sub(1);
            gate.taken.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sender_waits_until_a_part_is_taken() {
        let gate = Arc::new(PartGate::default());
        let mut tickets: Vec<PartTicket> = (0..PARTS_AHEAD).map(|_| gate.ticket()).collect();
        assert_eq!(gate.waiting(), PARTS_AHEAD);
        let taker = {
            let first = tickets.remove(0);
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(30));
                drop(first);
            })
        };
        let mut served = 0;
        gate.wait_for_room(|| served += 1);
        assert_eq!(gate.waiting(), PARTS_AHEAD - 1);
        assert!(served >= 1, "the worker's other work is served while it waits");
        taker.join().expect("taker");
        drop(tickets);
        assert_eq!(gate.waiting(), 0);
        // No gate, no count, no wait.
        drop(PartTicket::none());
        gate.wait_for_room(|| {});
    }
}
