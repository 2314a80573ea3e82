//! `mmdump`: read mmstats files (format 2 and legacy v1).
//!
//! Exit codes: 0 when every file was read, 1 when any file (or field)
//! could not be read (the others are still printed), a value asked for is
//! absent, or a file could not be removed; 2 for a usage error.
//!
//! This file parses the command line (`cli.rs`), runs the subcommand asked
//! for (`command/`) and turns its one error type into a message and an
//! exit code.

mod cli;
mod command;

use std::path::Path;
use std::process::ExitCode;

use clap::Parser;
use mmdump::dump::munin::PLUGIN_PREFIX;

use crate::cli::{Cli, Command, FilterArgs};

fn main() -> ExitCode {
    // Linked under a munin plugin name: munin's calling convention.
    let invoked_as = std::env::args_os()
        .next()
        .and_then(|arg0| {
            Path::new(&arg0)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_default();
    let result = if invoked_as.starts_with(PLUGIN_PREFIX) {
        let subcommand = std::env::args().nth(1).unwrap_or_default();
        command::munin::munin(&invoked_as, &subcommand, &FilterArgs::default())
    } else {
        run(Cli::parse())
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => error.report(),
    }
}

fn run(cli: Cli) -> Result<(), command::MmdumpError> {
    match cli.command {
        None if !cli.image.is_empty() => command::image::image(&cli.image, cli.base, cli.dump.json),
        None => command::dump::dump(&cli.dump),
        Some(Command::Dump(args)) => command::dump::dump(&args),
        Some(Command::List(args)) => command::list::list(&args),
        Some(Command::Tree(args)) => command::tree::tree(args),
        Some(Command::Get(args)) => command::get::get(&args),
        Some(Command::Watch(args)) => command::watch::watch(&args),
        Some(Command::Clean(args)) => command::clean::clean(&args),
        Some(Command::Munin(args)) => command::munin::munin(
            &args.plugin,
            args.command.as_deref().unwrap_or(""),
            &args.filter,
        ),
        Some(Command::Demo(args)) => command::demo::demo(&args),
        Some(Command::Tail(args)) => command::tail::tail(args),
        Some(Command::Trace(args)) => command::trace::trace(args),
        #[cfg(feature = "serve")]
        Some(Command::Serve(args)) => command::serve::serve(&args),
        #[cfg(feature = "serve")]
        Some(Command::Record(args)) => command::record::record(&args),
        #[cfg(feature = "serve")]
        Some(Command::Trend(args)) => command::trend::trend(&args),
        #[cfg(feature = "push")]
        Some(Command::Push(args)) => command::push::push(&args),
    }
}
