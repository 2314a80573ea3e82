//! The heartbeat thread: stamps the region's heartbeat word until the
//! file is dropped.

use std::sync::Weak;
use std::time::Duration;

use crate::os;

use super::file::FileInner;

pub(super) fn spawn_heartbeat(file: Weak<FileInner>, interval: Duration) {
    let spawned = std::thread::Builder::new()
        .name("mmstats-heartbeat".into())
        .spawn(move || {
            while let Some(inner) = file.upgrade() {
                inner.lock().region.heartbeat(os::now_ns());
                drop(inner);
                std::thread::sleep(interval);
            }
        });
    // Without a thread the file simply has no heartbeat; readers cope.
    drop(spawned);
}
