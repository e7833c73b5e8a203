//! The reference receiver binary. Its relay and inspector are being built on `receiver-sdk`;
//! until they land it only reports that.

use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!("reference-receiver: not yet functional; see README.md");
    ExitCode::FAILURE
}
