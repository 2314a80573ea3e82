//! `mmdump clean`: remove stats files whose writer is provably dead.

use std::io::{self, BufWriter, Write};

use mmdump::dump;
use mmdump::dump::clean::{Action, CleanOptions};
use serde_json::json;

use super::MmdumpError;
use crate::cli::CleanArgs;

/// `mmdump clean`.
pub(crate) fn clean(args: &CleanArgs) -> Result<(), MmdumpError> {
    let options = CleanOptions {
        dry_run: args.dry_run,
        closed: args.closed,
        legacy: args.legacy,
        all_users: args.all_users,
    };
    let (outcomes, errors) = dump::clean::clean(&args.paths, &args.filter.selection(), &options);
    let mut out = BufWriter::new(io::stdout().lock());
    if args.json {
        let files: Vec<_> = outcomes
            .iter()
            .map(|o| {
                json!({
                    "path": o.path.display().to_string(),
                    "action": o.action.word(),
                    "reason": o.reason,
                    "error": match &o.action { Action::Failed(e) => Some(e), _ => None },
                })
            })
            .collect();
        let errors: Vec<_> = errors
            .iter()
            .map(|(p, e)| json!({"path": p.display().to_string(), "error": e.to_string()}))
            .collect();
        writeln!(
            out,
            "{}",
            json!({"schema": dump::JSON_SCHEMA, "dry_run": args.dry_run, "files": files, "errors": errors})
        )?;
    } else {
        for outcome in &outcomes {
            if args.quiet && outcome.action == Action::Kept {
                continue;
            }
            let extra = match &outcome.action {
                Action::Failed(error) => format!(": {error}"),
                _ => String::new(),
            };
            writeln!(
                out,
                "{:<12}  {}  ({}){extra}",
                outcome.action.word(),
                dump::printable(&outcome.path.display().to_string()),
                dump::printable(&outcome.reason)
            )?;
        }
    }
    out.flush()?;
    for (path, error) in &errors {
        eprintln!(
            "mmdump: {}: {}",
            dump::printable(&path.display().to_string()),
            error
        );
    }
    let failed = outcomes
        .iter()
        .any(|o| matches!(o.action, Action::Failed(_)));
    if failed || !errors.is_empty() {
        Err(MmdumpError::Incomplete)
    } else {
        Ok(())
    }
}
