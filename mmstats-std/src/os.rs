//! Facts about processes and the machine: ids, start times, boot id, clock,
//! and whether the writer of a region is still alive.
//!
//! Liveness never trusts a pid alone: pids are reused. A writer is judged by
//! its pid *and* its process start time *and* the boot it ran in, and, for
//! files made by this crate, by the shared `flock` its writer holds for as
//! long as the file is open (which also works across pid namespaces).

use std::fs;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// Nanoseconds since the Unix epoch, now (0 if the clock is before 1970).
#[must_use]
pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Nanoseconds of `CLOCK_MONOTONIC`, now (`clock_gettime(2)`): the same
/// clock in every process of the machine, never stepped; what window
/// averages and their readers use.
#[must_use]
pub fn monotonic_ns() -> u64 {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    u64::try_from(now.tv_sec)
        .unwrap_or(0)
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::try_from(now.tv_nsec).unwrap_or(0))
}

/// The calling thread's id, cached per thread (one `gettid(2)` per thread):
/// cheap enough for every event-ring record.
#[must_use]
pub fn cached_tid() -> u64 {
    thread_local! {
        static TID: u64 = tid();
    }
    TID.with(|tid| *tid)
}

/// This process's id.
#[must_use]
pub fn pid() -> u64 {
    u64::from(std::process::id())
}

/// The calling thread's id (`gettid(2)`).
#[must_use]
pub fn tid() -> u64 {
    rustix::thread::gettid()
        .as_raw_nonzero()
        .get()
        .unsigned_abs()
        .into()
}

/// This process's real user id (`getuid(2)`).
#[must_use]
pub fn uid() -> u64 {
    rustix::process::getuid().as_raw().into()
}

/// The effective user id (`geteuid(2)`): the owner of the files this
/// process creates, and the user whose files it may reclaim.
#[must_use]
pub fn euid() -> u64 {
    rustix::process::geteuid().as_raw().into()
}

/// The id of a group given by name (looked up in `/etc/group`) or as a
/// decimal number. Groups known only to another name service (LDAP,
/// sssd) must be given by number.
#[must_use]
pub fn group_id(group: &str) -> Option<u32> {
    if let Ok(gid) = group.parse::<u32>() {
        return Some(gid);
    }
    let table = std::fs::read_to_string("/etc/group").ok()?;
    parse_group_table(&table, group)
}

fn parse_group_table(table: &str, group: &str) -> Option<u32> {
    table.lines().find_map(|line| {
        let mut parts = line.split(':');
        let name = parts.next()?;
        let _password = parts.next()?;
        let gid = parts.next()?;
        (name == group).then(|| gid.parse().ok()).flatten()
    })
}

/// The start time of process `pid` as the kernel reports it: field 22 of
/// `/proc/PID/stat`, in clock ticks after boot. `None` if there is no such
/// process (or no procfs).
///
/// See [proc_pid_stat(5)](https://man7.org/linux/man-pages/man5/proc_pid_stat.5.html).
#[must_use]
pub fn process_start_time(pid: u64) -> Option<u64> {
    let stat = fs::read(format!("/proc/{pid}/stat")).ok()?;
    parse_start_time(&stat)
}

/// Field 22 of a `/proc/PID/stat` line. The command name (field 2) is in
/// parentheses and may itself hold spaces and parentheses, so fields are
/// counted from the last `)`.
fn parse_start_time(stat: &[u8]) -> Option<u64> {
    parse_stat(stat).map(|(_, start)| start)
}

/// Fields 3 (state) and 22 (start time) of a `/proc/PID/stat` line.
fn parse_stat(stat: &[u8]) -> Option<(char, u64)> {
    let close = stat.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(stat.get(close + 1..)?).ok()?;
    let mut fields = rest.split_ascii_whitespace();
    // After ")": field 3 (state) is index 0, so field 22 is index 19.
    let state = fields.next()?.chars().next()?;
    Some((state, fields.nth(18)?.parse().ok()?))
}

/// A 64-bit FNV-1a hash of this boot's id
/// (`/proc/sys/kernel/random/boot_id`), or 0 where there is none.
#[must_use]
pub fn boot_id() -> u64 {
    fs::read("/proc/sys/kernel/random/boot_id").map_or(0, |id| fnv1a(id.trim_ascii()))
}

/// 64-bit FNV-1a.
#[must_use]
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The program's short name, safe in a file name: the base name of
/// `argv[0]` with anything but `[A-Za-z0-9._-]` turned into `_`, at most
/// 32 bytes, or `"unknown"`.
#[must_use]
pub fn program_name() -> String {
    let raw = std::env::args_os()
        .next()
        .and_then(|arg| {
            Path::new(&arg)
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
        })
        .unwrap_or_default();
    let clean = sanitize_name_part(&raw);
    if clean.is_empty() {
        "unknown".to_owned()
    } else {
        clean
    }
}

/// `part` with anything but `[A-Za-z0-9._-]` turned into `_`, cut to 32
/// bytes, and never starting with a dot (readers skip dot files).
#[must_use]
pub fn sanitize_name_part(part: &str) -> String {
    let mut clean: String = part
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(32)
        .collect();
    if clean.starts_with('.') {
        clean.replace_range(..1, "_");
    }
    clean
}

/// What the process table says of a writer identified by pid, start time
/// and boot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcessCheck {
    /// A process with this pid and this start time runs in this boot.
    Running,
    /// No such process in this boot: the pid is free, or now belongs to a
    /// process that started at another time, or to one that has exited and
    /// awaits reaping (a zombie), or the writer ran in an earlier boot.
    Gone,
    /// Cannot tell (no pid or start time recorded, or no procfs).
    Unknown,
}

/// Checks a writer's identity against the process table.
#[must_use]
pub fn check_process(pid: u64, start_time: u64, writer_boot: u64) -> ProcessCheck {
    let this_boot = boot_id();
    if writer_boot != 0 && this_boot != 0 && writer_boot != this_boot {
        return ProcessCheck::Gone;
    }
    if pid == 0 || pid > i32::MAX as u64 || !Path::new("/proc/self/stat").exists() {
        return ProcessCheck::Unknown;
    }
    let stat = fs::read(format!("/proc/{pid}/stat")).ok();
    match stat.as_deref().and_then(parse_stat) {
        None => ProcessCheck::Gone,
        // Exited but not yet reaped by its parent (a zombie), or dying: the
        // pid is taken, but nothing runs under it and its locks are free.
        Some(('Z' | 'X', _)) => ProcessCheck::Gone,
        Some(_) if start_time == 0 => ProcessCheck::Unknown,
        Some((_, now)) if now == start_time => ProcessCheck::Running,
        Some(_) => ProcessCheck::Gone,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_time_parses_past_odd_command_names() {
        let line =
            b"1234 (a (b) c) S 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 987654 23 24\n";
        assert_eq!(parse_start_time(line), Some(987_654));
        assert_eq!(parse_start_time(b"1234 (x) S 1 2"), None);
        assert_eq!(parse_stat(line), Some(('S', 987_654)));
        let zombie = b"9 (w) Z 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 55 23 24\n";
        assert_eq!(parse_stat(zombie), Some(('Z', 55)));
        assert_eq!(parse_start_time(b"garbage"), None);
    }

    #[test]
    fn own_process_is_running_and_a_changed_start_time_is_gone() {
        let me = pid();
        let Some(start) = process_start_time(me) else {
            // No procfs here: nothing to check against.
            assert_eq!(check_process(me, 1, 0), ProcessCheck::Unknown);
            return;
        };
        assert_eq!(check_process(me, start, boot_id()), ProcessCheck::Running);
        assert_eq!(
            check_process(me, start + 1, boot_id()),
            ProcessCheck::Gone,
            "pid reuse"
        );
        assert_eq!(
            check_process(me, start, boot_id() ^ 1),
            ProcessCheck::Gone,
            "other boot"
        );
        assert_eq!(check_process(me, 0, 0), ProcessCheck::Unknown);
    }

    #[test]
    fn groups_are_found_by_name_or_number() {
        let table = "root:x:0:\nstats:x:1234:munin,nobody\nbroken\n";
        assert_eq!(parse_group_table(table, "stats"), Some(1234));
        assert_eq!(parse_group_table(table, "root"), Some(0));
        assert_eq!(parse_group_table(table, "broken"), None);
        assert_eq!(parse_group_table(table, "nobody"), None);
        assert_eq!(group_id("4321"), Some(4321));
    }

    #[test]
    fn names_are_sanitized_for_files() {
        assert_eq!(sanitize_name_part("web server/1"), "web_server_1");
        assert_eq!(sanitize_name_part(".hidden"), "_hidden");
        assert_eq!(sanitize_name_part(&"x".repeat(40)).len(), 32);
        assert!(!program_name().is_empty());
    }

    #[test]
    fn fnv1a_matches_reference_values() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
