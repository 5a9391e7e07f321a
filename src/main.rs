use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = warroom::cli::Cli::parse();
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
