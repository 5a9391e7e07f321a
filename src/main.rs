use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = warroom::cli::Cli::parse();
    if cli.opens_console() {
        fixed_mmap_threshold();
    }
    match warroom::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(fail) => {
            // An error may quote what the user typed (an id, a name): characters that are never
            // shown (escapes, bidi controls, zero-width) are written out, line by line.
            let shown: Vec<String> = fail
                .message
                .lines()
                .map(|l| warroom::domain::sanitize::visible(&l.replace('\t', "    ")))
                .collect();
            eprintln!("warroom: {}", shown.join("\n"));
            ExitCode::from(fail.code)
        }
    }
}

/// In the console, large blocks (≥ 256 KiB: a part of a long read passing from the store
/// thread to the screen's, a read buffer) are mapped and unmapped on their own instead of
/// carved out of the heap. glibc's default raises this threshold each time such a block is
/// freed, after which the passing parts were cut from the heap between records the console
/// keeps, and their holes stayed: ≈ 6 MiB of 70 MiB peak RSS when opening a 100k-record
/// incident (issue 12). Not for the one-shot commands: a 1M-record `show` pays ≈ 0.25 s more
/// system time for the page faults and keeps no less. Setting the threshold fixes it
/// (mallopt(3): setting `M_MMAP_THRESHOLD` turns the dynamic adjustment off).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn fixed_mmap_threshold() {
    // SAFETY: mallopt only sets an allocator parameter; called before any thread is started.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn fixed_mmap_threshold() {}
