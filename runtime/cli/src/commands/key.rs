//! `uhome key`: node keys for signed frames.

use std::process::ExitCode;

use uhome_runtime::security::{describe, generate_key_file, load_key_file};

use crate::args::{KeyAction, KeyArgs};

/// Creates or shows a key file.
pub fn run(args: KeyArgs) -> Result<ExitCode, String> {
    let key = match &args.action {
        KeyAction::New { file } => generate_key_file(file),
        KeyAction::Show { file } => load_key_file(file),
    }
    .map_err(|e| e.to_string())?;
    println!("{}", describe(&key));
    Ok(ExitCode::SUCCESS)
}
