use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = warroom::cli::Cli::parse();
    match warroom::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(fail) => {
            eprintln!("warroom: {}", fail.message);
            ExitCode::from(fail.code)
        }
    }
}
