//! Where stats files go and how they are named: the directory and group
//! environment variables, the default directory, file extension, POSIX
//! shared-memory prefix, and the default file size and reuse delay.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::os;

/// Environment variable naming the directory stats files go to.
pub const DIR_ENV: &str = "MMSTATS_DIR";
/// The directory stats files go to unless [`DIR_ENV`] says otherwise.
pub const DEFAULT_DIR: &str = "/dev/shm/mmstats";
/// Extension of every stats file.
pub const EXTENSION: &str = "mmstats";
/// Prefix of the POSIX shared-memory objects this crate creates (on Linux
/// they appear as `/dev/shm/mmstats.*.mmstats`).
pub const SHM_PREFIX: &str = "mmstats.";
/// Default region size: 256 KiB (about 580 fields of every kind with room
/// for labels, the default, or 800 without; tmpfs only
/// allocates the pages that are touched).
pub const DEFAULT_SIZE: usize = 256 * 1024;
/// How long a retired dynamic field's slot waits before another field may
/// use it, unless the builder says otherwise.
pub const DEFAULT_REUSE_DELAY: Duration = Duration::from_secs(1);

/// The directory stats files go to: `$MMSTATS_DIR`, else `/dev/shm/mmstats`
/// where `/dev/shm` exists, else `mmstats-UID` in the temporary directory.
#[must_use]
pub fn default_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(DIR_ENV).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if Path::new("/dev/shm").is_dir() {
        return PathBuf::from(DEFAULT_DIR);
    }
    std::env::temp_dir().join(format!("mmstats-{}", os::uid()))
}

/// Environment variable naming the group new stats files and directories
/// are made readable by (see [`StatsFileBuilder::group`](crate::StatsFileBuilder::group)).
pub const GROUP_ENV: &str = "MMSTATS_GROUP";
