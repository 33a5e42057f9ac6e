//! `uhome config example [COMMAND]`: a commented configuration file.

use std::process::ExitCode;

use crate::args::{ConfigAction, ConfigArgs};
use crate::config_file;

/// Prints what the action asks for.
pub fn run(args: ConfigArgs) -> ExitCode {
    match args.action {
        ConfigAction::Example { command } => {
            print!("{}", config_file::example(command));
            ExitCode::SUCCESS
        }
    }
}
