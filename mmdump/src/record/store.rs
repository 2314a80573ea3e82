//! The writable trend database: [`TrendStore`] creates or opens it,
//! records samples, folds and prunes tiers, and keeps the file under its
//! size bound, also when the disk is full ([`StoreNotice`]).

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags, params};

use crate::dump::watch::Frame;

use super::{
    APPLICATION_ID, HOUR_MS, MIN_MAX_BYTES, MINUTE_MS, Maintenance, Retention, SCHEMA,
    SCHEMA_VERSION, SampleRow, StoreError, StoreSize, TrendQuery, check_companions,
    check_directory, check_identity, check_same_file, lock_database, open_database, sqlite_error,
};

/// The writable trend database.
#[derive(Debug)]
pub struct TrendStore {
    conn: Connection,
    path: PathBuf,
    retention: Retention,
    page_size: u64,
    /// (name, kind) -> series id.
    ids: HashMap<(String, &'static str), i64>,
    /// Series id -> the last string stored.
    last_text: HashMap<i64, String>,
    /// A smaller page cap learnt when the file system filled.
    disk_cap_pages: Option<u64>,
    /// What happened that the caller should hear of (at most 16 kept).
    notices: Vec<StoreNotice>,
    /// The database as checked and locked; after `conn`, so it is closed
    /// after SQLite's descriptors (closing any descriptor of the file
    /// drops the process's `fcntl` locks on it).
    file: File,
}

/// Something the store did on its own that its caller should log.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreNotice {
    /// The file system was full: the oldest history was deleted and the
    /// database capped smaller.
    DiskFull {
        /// Rows deleted.
        deleted_rows: usize,
        /// The database's new size cap, in bytes.
        cap_bytes: u64,
    },
}

impl fmt::Display for StoreNotice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DiskFull {
                deleted_rows,
                cap_bytes,
            } => write!(
                f,
                "the file system is full: deleted the {deleted_rows} oldest values, \
                 the database is now capped at {cap_bytes} bytes"
            ),
        }
    }
}

impl TrendStore {
    /// Opens the database at `path`, creating it (mode 0600) if needed.
    pub fn open(path: impl AsRef<Path>, retention: Retention) -> Result<Self, StoreError> {
        let path = path.as_ref();
        if retention.max_bytes < MIN_MAX_BYTES {
            return Err(StoreError::Config(format!(
                "the size bound must be at least {} KiB",
                MIN_MAX_BYTES >> 10
            )));
        }
        if retention.raw.is_zero()
            || retention.minutes < retention.raw
            || retention.hours < retention.minutes
        {
            return Err(StoreError::Config(
                "retention must be raw > 0, minutes >= raw, hours >= minutes".into(),
            ));
        }
        check_directory(path)?;
        let file = open_database(path, true)?;
        lock_database(&file, path)?;
        check_companions(path, true)?;
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_NOFOLLOW,
        )
        .map_err(sqlite_error(path, "open"))?;
        check_same_file(&file, path)?;
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(sqlite_error(path, "set the busy timeout"))?;
        check_identity(&conn, path, true)?;
        let fresh: i32 = conn
            .pragma_query_value(None, "application_id", |r| r.get(0))
            .map_err(sqlite_error(path, "read the application id"))?;
        if fresh == 0 {
            // Before any table exists: pages freed by deletes can then be
            // given back to the file system.
            conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")
                .map_err(sqlite_error(path, "set auto_vacuum"))?;
        }
        let page_size: u64 = conn
            .pragma_query_value(None, "page_size", |r| r.get::<_, i64>(0))
            .map_err(sqlite_error(path, "read the page size"))? as u64;
        // A rollback journal: it exists only while a transaction runs
        // and holds at most the pages that transaction changes, so the
        // database file alone is what the size bound has to hold down
        // (a write-ahead log would keep growing by whole transactions
        // between checkpoints). The recorder writes one small transaction
        // per interval; readers wait for it (busy timeout).
        conn.pragma_update_and_check(None, "journal_mode", "DELETE", |r| r.get::<_, String>(0))
            .map_err(sqlite_error(path, "set the journal mode"))?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(sqlite_error(path, "set synchronous"))?;
        conn.execute_batch(SCHEMA)
            .map_err(sqlite_error(path, "create the tables"))?;
        conn.pragma_update(None, "application_id", APPLICATION_ID)
            .map_err(sqlite_error(path, "set the application id"))?;
        conn.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(sqlite_error(path, "set the schema version"))?;
        // The strings stored last, so a restart does not store them again.
        let last_text = {
            let mut statement = conn
                .prepare(
                    "SELECT series, value FROM texts AS a
                     WHERE t = (SELECT max(t) FROM texts AS b WHERE b.series = a.series)",
                )
                .map_err(sqlite_error(path, "read the last strings"))?;
            statement
                .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
                .and_then(Iterator::collect::<Result<HashMap<_, _>, _>>)
                .map_err(sqlite_error(path, "read the last strings"))?
        };
        let mut store = Self {
            conn,
            path: path.to_owned(),
            retention,
            page_size,
            ids: HashMap::new(),
            last_text,
            disk_cap_pages: None,
            notices: Vec::new(),
            file,
        };
        store.set_page_cap()?;
        Ok(store)
    }

    /// The database's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The retention in force.
    #[must_use]
    pub const fn retention(&self) -> Retention {
        self.retention
    }

    /// Pages the database may hold: the size bound's, or less if the
    /// file system filled.
    fn page_cap(&self) -> u64 {
        let bound = (self.retention.max_bytes / self.page_size).max(16);
        self.disk_cap_pages.map_or(bound, |disk| disk.min(bound))
    }

    /// What the store did on its own since the last call (a full disk).
    pub fn take_notices(&mut self) -> Vec<StoreNotice> {
        std::mem::take(&mut self.notices)
    }

    fn notice(&mut self, notice: StoreNotice) {
        if self.notices.len() < 16 {
            self.notices.push(notice);
        }
    }

    fn set_journal_mode(&self, mode: &str) -> Result<(), StoreError> {
        self.conn
            .pragma_update_and_check(None, "journal_mode", mode, |r| r.get::<_, String>(0))
            .map(drop)
            .map_err(sqlite_error(&self.path, "set the journal mode"))
    }

    /// After `SQLITE_FULL`: prunes to make room, and learns a smaller cap
    /// if it was the file system that filled (see the module docs).
    fn make_room(&mut self, now_ms: i64) -> Result<(), StoreError> {
        let pages = self.page_count()?;
        let cap = self.page_cap();
        if pages + 2 >= cap {
            // The database's own cap.
            self.prune_to(cap * 7 / 10, now_ms)?;
            return Ok(());
        }
        let disk_cap = (pages * 8 / 10).max(16);
        self.disk_cap_pages = Some(disk_cap);
        // No room on disk for a rollback journal: keep the deletes'
        // journal in memory (a crash in these few milliseconds could
        // leave the database corrupt; a full disk has no better choice).
        self.set_journal_mode("MEMORY")?;
        let pruned = self.prune_to(disk_cap * 7 / 10, now_ms);
        let restored = self.set_journal_mode("DELETE");
        let deleted_rows = pruned?;
        restored?;
        self.set_page_cap()?;
        self.notice(StoreNotice::DiskFull {
            deleted_rows,
            cap_bytes: disk_cap * self.page_size,
        });
        Ok(())
    }

    /// Lets a cap learnt from a full file system grow with the room the
    /// file system has again (half its free space), up to the size bound.
    fn regrow_disk_cap(&mut self) -> Result<(), StoreError> {
        let Some(disk_cap) = self.disk_cap_pages else {
            return Ok(());
        };
        let Ok(fs) = rustix::fs::fstatvfs(&self.file) else {
            return Ok(());
        };
        let free_pages = fs.f_bavail.saturating_mul(fs.f_frsize) / self.page_size;
        let room = self.page_count()?.saturating_add(free_pages / 2);
        if room > disk_cap {
            let bound = (self.retention.max_bytes / self.page_size).max(16);
            self.disk_cap_pages = (room < bound).then_some(room);
            self.set_page_cap()?;
        }
        Ok(())
    }

    fn set_page_cap(&mut self) -> Result<(), StoreError> {
        let current = self.page_count()?;
        // A database already larger than the cap (a smaller bound given
        // to an existing file) is pruned first.
        if current > self.page_cap() {
            self.prune_to(
                self.page_cap() * 8 / 10,
                mmstats::os::now_ns() as i64 / 1_000_000,
            )?;
        }
        let cap = self.page_cap().max(self.page_count()?);
        self.conn
            .pragma_update(None, "max_page_count", cap as i64)
            .map_err(sqlite_error(&self.path, "set max_page_count"))
    }

    fn page_count(&self) -> Result<u64, StoreError> {
        self.conn
            .pragma_query_value(None, "page_count", |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(sqlite_error(&self.path, "read page_count"))
    }

    fn used_pages(&self) -> Result<u64, StoreError> {
        let free: i64 = self
            .conn
            .pragma_query_value(None, "freelist_count", |r| r.get(0))
            .map_err(sqlite_error(&self.path, "read freelist_count"))?;
        Ok(self.page_count()?.saturating_sub(free as u64))
    }

    /// The sizes of the database's files now.
    pub fn size(&self) -> Result<StoreSize, StoreError> {
        let file_len = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
        let mut journal = self.path.as_os_str().to_owned();
        journal.push("-journal");
        Ok(StoreSize {
            db_bytes: file_len(&self.path),
            journal_bytes: file_len(Path::new(&journal)),
            used_bytes: self.used_pages()? * self.page_size,
        })
    }

    fn series_id(&mut self, row: &SampleRow<'_>) -> Result<i64, rusqlite::Error> {
        if let Some(&id) = self.ids.get(&(row.name.to_owned(), row.kind)) {
            return Ok(id);
        }
        let id: i64 = self.conn.query_row(
            "INSERT INTO series (name, kind, unit) VALUES (?1, ?2, ?3)
             ON CONFLICT (name, kind) DO UPDATE SET unit = excluded.unit
             RETURNING id",
            params![row.name, row.kind, row.unit],
            |r| r.get(0),
        )?;
        self.ids.insert((row.name.to_owned(), row.kind), id);
        Ok(id)
    }

    /// Stores one sample of every row at `t_ms`; returns the rows stored.
    pub fn record(&mut self, t_ms: i64, rows: &[SampleRow<'_>]) -> Result<usize, StoreError> {
        match self.try_record(t_ms, rows) {
            Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == ErrorCode::DiskFull => {
                // The page cap was reached, or the file system is full:
                // make room and try once more.
                self.make_room(t_ms)?;
                self.try_record(t_ms, rows)
                    .map_err(sqlite_error(&self.path, "record"))
            }
            other => other.map_err(sqlite_error(&self.path, "record")),
        }
    }

    fn try_record(&mut self, t_ms: i64, rows: &[SampleRow<'_>]) -> Result<usize, rusqlite::Error> {
        let mut ids = Vec::with_capacity(rows.len());
        for row in rows {
            ids.push(self.series_id(row)?);
        }
        let tx = self.conn.transaction()?;
        let mut stored = 0;
        let mut new_texts = Vec::new();
        {
            let mut sample = tx.prepare(
                "INSERT INTO samples (series, tier, t, value, min, max, rate, n)
                 VALUES (?1, 0, ?2, ?3, ?3, ?3, ?4, 1)
                 ON CONFLICT (series, tier, t) DO UPDATE
                 SET value = excluded.value, min = excluded.min, max = excluded.max,
                     rate = excluded.rate",
            )?;
            let mut text = tx.prepare(
                "INSERT INTO texts (series, t, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT (series, t) DO UPDATE SET value = excluded.value",
            )?;
            for (row, &id) in rows.iter().zip(&ids) {
                if let Some(value) = row.text {
                    if self.last_text.get(&id).is_none_or(|last| last != value) {
                        text.execute(params![id, t_ms, value])?;
                        new_texts.push((id, value.to_owned()));
                        stored += 1;
                    }
                } else if row.value.is_some() {
                    sample.execute(params![id, t_ms, row.value, row.rate])?;
                    stored += 1;
                }
            }
        }
        tx.commit()?;
        self.last_text.extend(new_texts);
        Ok(stored)
    }

    /// Stores a combined `watch` frame (its first group).
    pub fn record_frame(&mut self, frame: &Frame) -> Result<usize, StoreError> {
        let Some(group) = frame.groups.first() else {
            return Ok(0);
        };
        let rows: Vec<SampleRow<'_>> = group.rows.iter().map(SampleRow::of_row).collect();
        self.record((frame.time_ns / 1_000_000) as i64, &rows)
    }

    /// Series ids present in the database.
    fn all_series(&self) -> Result<Vec<i64>, rusqlite::Error> {
        let mut statement = self.conn.prepare("SELECT id FROM series ORDER BY id")?;
        let ids = statement
            .query_map([], |r| r.get(0))?
            .collect::<Result<Vec<i64>, _>>()?;
        Ok(ids)
    }

    /// Folds old samples into coarser tiers, deletes expired ones, and
    /// keeps the database under its size bound.
    pub fn maintain(&mut self, now_ms: i64) -> Result<Maintenance, StoreError> {
        let mut done = self
            .fold_and_expire(now_ms)
            .map_err(sqlite_error(&self.path, "downsample"))?;
        self.regrow_disk_cap()?;
        let cap = self.page_cap();
        if self.used_pages()? > cap * 9 / 10 {
            done.pruned += self.prune_to(cap * 8 / 10, now_ms)?;
        }
        self.vacuum()?;
        Ok(done)
    }

    fn fold_and_expire(&mut self, now_ms: i64) -> Result<Maintenance, rusqlite::Error> {
        let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        let floor = |t: i64, step: i64| t.div_euclid(step) * step;
        let raw_cut = floor(now_ms.saturating_sub(ms(self.retention.raw)), MINUTE_MS);
        let minute_cut = floor(now_ms.saturating_sub(ms(self.retention.minutes)), HOUR_MS);
        let hour_cut = now_ms.saturating_sub(ms(self.retention.hours));
        let ids = self.all_series()?;
        let tx = self.conn.transaction()?;
        let mut done = Maintenance::default();
        {
            // Weighted means; SQLite's division by zero gives NULL (a
            // bucket without any known rate has none).
            let fold = |from: i64, to: i64, step: i64| {
                format!(
                    "INSERT INTO samples (series, tier, t, value, min, max, rate, n)
                     SELECT series, {to}, (t / {step}) * {step} AS bucket,
                            sum(value * n) / sum(n), min(min), max(max),
                            sum(rate * n) / sum(CASE WHEN rate IS NULL THEN 0 ELSE n END),
                            sum(n)
                     FROM samples WHERE series = ?1 AND tier = {from} AND t < ?2
                     GROUP BY bucket
                     ON CONFLICT (series, tier, t) DO UPDATE SET
                        value = (value * n + excluded.value * excluded.n) / (n + excluded.n),
                        min = min(min, excluded.min),
                        max = max(max, excluded.max),
                        rate = CASE WHEN rate IS NULL THEN excluded.rate
                                    WHEN excluded.rate IS NULL THEN rate
                                    ELSE (rate * n + excluded.rate * excluded.n) / (n + excluded.n) END,
                        n = n + excluded.n"
                )
            };
            let mut fold_raw = tx.prepare(&fold(0, 1, MINUTE_MS))?;
            let mut fold_minutes = tx.prepare(&fold(1, 2, HOUR_MS))?;
            let mut delete =
                tx.prepare("DELETE FROM samples WHERE series = ?1 AND tier = ?2 AND t < ?3")?;
            let mut expire_texts = tx.prepare(
                "DELETE FROM texts WHERE series = ?1 AND t < ?2
                 AND t < (SELECT max(t) FROM texts WHERE series = ?1)",
            )?;
            for &id in &ids {
                fold_raw.execute(params![id, raw_cut])?;
                done.folded_raw += delete.execute(params![id, 0, raw_cut])?;
                fold_minutes.execute(params![id, minute_cut])?;
                done.folded_minutes += delete.execute(params![id, 1, minute_cut])?;
                done.expired += delete.execute(params![id, 2, hour_cut])?;
                done.expired += expire_texts.execute(params![id, hour_cut])?;
            }
            // Series with nothing left.
            done.expired += tx.execute(
                "DELETE FROM series WHERE NOT EXISTS (SELECT 1 FROM samples WHERE series = series.id)
                 AND NOT EXISTS (SELECT 1 FROM texts WHERE series = series.id)",
                [],
            )?;
        }
        tx.commit()?;
        self.forget_deleted_series()?;
        Ok(done)
    }

    /// Drops cached ids of series no longer in the database.
    fn forget_deleted_series(&mut self) -> Result<(), rusqlite::Error> {
        let present: std::collections::HashSet<i64> = self.all_series()?.into_iter().collect();
        self.ids.retain(|_, id| present.contains(id));
        self.last_text.retain(|id, _| present.contains(id));
        Ok(())
    }

    /// Deletes the oldest history until at most `target_pages` pages are
    /// in use; returns the rows deleted.
    fn prune_to(&mut self, target_pages: u64, now_ms: i64) -> Result<usize, StoreError> {
        let mut deleted = 0;
        for _ in 0..40 {
            if self.used_pages()? <= target_pages {
                break;
            }
            let removed = self
                .delete_oldest_tenth(now_ms)
                .map_err(sqlite_error(&self.path, "prune"))?;
            deleted += removed;
            self.vacuum()?;
            if removed == 0 {
                break;
            }
        }
        Ok(deleted)
    }

    fn delete_oldest_tenth(&mut self, now_ms: i64) -> Result<usize, rusqlite::Error> {
        let ids = self.all_series()?;
        let mut oldest: Option<i64> = None;
        {
            let mut first = self
                .conn
                .prepare("SELECT min(t) FROM samples WHERE series = ?1 AND tier = ?2")?;
            let mut first_text = self
                .conn
                .prepare("SELECT min(t) FROM texts WHERE series = ?1")?;
            for &id in &ids {
                for tier in 0..3 {
                    let t: Option<i64> = first.query_row(params![id, tier], |r| r.get(0))?;
                    oldest = match (oldest, t) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                }
                let t: Option<i64> = first_text.query_row(params![id], |r| r.get(0))?;
                oldest = match (oldest, t) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
        }
        let Some(oldest) = oldest else { return Ok(0) };
        let cut = oldest + ((now_ms - oldest) / 10).max(1);
        let tx = self.conn.transaction()?;
        let mut deleted = 0;
        {
            let mut samples =
                tx.prepare("DELETE FROM samples WHERE series = ?1 AND tier = ?2 AND t < ?3")?;
            let mut texts = tx.prepare("DELETE FROM texts WHERE series = ?1 AND t < ?2")?;
            for &id in &ids {
                for tier in 0..3 {
                    deleted += samples.execute(params![id, tier, cut])?;
                }
                deleted += texts.execute(params![id, cut])?;
            }
            tx.execute(
                "DELETE FROM series WHERE NOT EXISTS (SELECT 1 FROM samples WHERE series = series.id)
                 AND NOT EXISTS (SELECT 1 FROM texts WHERE series = series.id)",
                [],
            )?;
        }
        tx.commit()?;
        self.forget_deleted_series()?;
        Ok(deleted)
    }

    /// Gives free pages back to the file system.
    fn vacuum(&mut self) -> Result<(), StoreError> {
        self.conn
            .execute_batch("PRAGMA incremental_vacuum;")
            .map_err(sqlite_error(&self.path, "incremental vacuum"))
    }

    /// Read access through the same connection.
    #[must_use]
    pub fn reader(&self) -> TrendQuery<'_> {
        TrendQuery {
            conn: &self.conn,
            path: &self.path,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::TrendReader;

    fn row(name: &str, value: f64, rate: Option<f64>) -> SampleRow<'_> {
        SampleRow {
            name,
            kind: "counter",
            unit: "",
            value: Some(value),
            rate,
            text: None,
        }
    }

    #[test]
    fn samples_fold_into_minutes_and_hours_and_expire() {
        let dir = scratch();
        let path = dir.path().join("t.db");
        let retention = Retention {
            raw: Duration::from_secs(120),
            minutes: Duration::from_secs(3 * 3600),
            hours: Duration::from_secs(48 * 3600),
            max_bytes: 8 << 20,
        };
        let mut store = TrendStore::open(&path, retention).unwrap();
        let start = 1_700_000_000_000i64 / HOUR_MS * HOUR_MS;
        // A value rising by 1 every 10 s for 6 hours, rate 0.1/s.
        for i in 0..(6 * 360) {
            let t = start + i * 10_000;
            store.record(t, &[row("c", i as f64, Some(0.1))]).unwrap();
            if i % 60 == 0 {
                store.maintain(t).unwrap();
            }
        }
        let now = start + 6 * HOUR_MS;
        store.maintain(now).unwrap();
        let (tiers, _) = store.reader().row_counts().unwrap();
        // Raw: the last 2 minutes (aligned to a minute): 12 to 18 samples.
        assert!((12..=18).contains(&tiers[0]), "{tiers:?}");
        // Minutes: back to the hour boundary 3 h ago (up to ~4 hours).
        assert!((170..=240).contains(&tiers[1]), "{tiers:?}");
        // Hours: the rest (2 to 3 hours' buckets).
        assert!((2..=4).contains(&tiers[2]), "{tiers:?}");
        let series = store.reader().find("c").unwrap().unwrap();
        let points = store
            .reader()
            .history(series.id, start, now, 10_000)
            .unwrap();
        // Continuous: hours, then minutes, then raw, in time order.
        assert_eq!(points.first().unwrap().tier, 2);
        assert_eq!(points.last().unwrap().tier, 0);
        assert!(points.windows(2).all(|w| w[0].t_ms < w[1].t_ms));
        // An hour bucket's mean of 0..360 + k*360 and its min/max.
        let first = &points[0];
        assert_eq!(first.min, Some(0.0));
        assert_eq!(first.max, Some(359.0));
        assert!((first.value.unwrap() - 179.5).abs() < 1e-9, "{first:?}");
        assert!((first.rate.unwrap() - 0.1).abs() < 1e-9);
        // Two days later, everything but the newest hours is gone.
        store.maintain(now + 2 * 24 * HOUR_MS).unwrap();
        let (tiers, _) = store.reader().row_counts().unwrap();
        assert_eq!(tiers, [0, 0, 0], "all expired");
        assert!(store.reader().series().unwrap().is_empty());
    }

    #[test]
    fn strings_are_stored_when_they_change() {
        let dir = scratch();
        let mut store = TrendStore::open(dir.path().join("t.db"), Retention::default()).unwrap();
        let text = |v: &'static str| SampleRow {
            name: "version",
            kind: "string",
            unit: "",
            value: None,
            rate: None,
            text: Some(v),
        };
        assert_eq!(store.record(1000, &[text("a")]).unwrap(), 1);
        assert_eq!(store.record(2000, &[text("a")]).unwrap(), 0);
        assert_eq!(store.record(3000, &[text("b")]).unwrap(), 1);
        // Reopened (a recorder restarted): the last string is known.
        drop(store);
        let mut store = TrendStore::open(dir.path().join("t.db"), Retention::default()).unwrap();
        assert_eq!(store.record(4000, &[text("b")]).unwrap(), 0);
        let series = store.reader().find("version").unwrap().unwrap();
        assert_eq!(
            store.reader().texts(series.id, 0, 10_000, 10).unwrap(),
            vec![(1000, "a".to_owned()), (3000, "b".to_owned())]
        );
    }

    /// A directory for test databases: in memory (`/dev/shm`) when there
    /// is one, since every commit syncs.
    fn scratch() -> tempfile::TempDir {
        tempfile::tempdir_in("/dev/shm").unwrap_or_else(|_| tempfile::tempdir().unwrap())
    }

    #[test]
    fn the_database_stays_under_its_size_bound() {
        let dir = scratch();
        let path = dir.path().join("t.db");
        let retention = Retention {
            max_bytes: MIN_MAX_BYTES,
            ..Retention::default()
        };
        let mut store = TrendStore::open(&path, retention).unwrap();
        let names: Vec<String> = (0..20).map(|i| format!("field.number.{i}")).collect();
        let start = 1_700_000_000_000i64;
        let seconds = 40 * 60;
        let mut largest = 0;
        // 20 fields a second for 40 minutes, all kept raw by the default
        // retention: 48,000 rows, several times what 256 KiB holds.
        for i in 0..seconds {
            let t = start + i * 1000;
            let rows: Vec<SampleRow<'_>> =
                names.iter().map(|n| row(n, i as f64, Some(1.0))).collect();
            store.record(t, &rows).unwrap();
            if i % 60 == 0 {
                store.maintain(t).unwrap();
            }
            let size = store.size().unwrap();
            assert_eq!(size.journal_bytes, 0, "no journal between transactions");
            largest = largest.max(size.db_bytes);
        }
        assert!(
            largest <= MIN_MAX_BYTES,
            "the database reached {largest} bytes, bound {MIN_MAX_BYTES}"
        );
        // It was pruned: far fewer rows than were recorded ...
        let (tiers, _) = store.reader().row_counts().unwrap();
        let kept: u64 = tiers.iter().sum();
        println!(
            "{} samples recorded, {kept} kept ({tiers:?} per tier); largest file {largest} bytes, bound {MIN_MAX_BYTES}",
            20 * seconds
        );
        assert!(kept < 20 * seconds as u64 / 3, "{tiers:?}");
        // ... the oldest ones, while the newest are all there.
        let series = store.reader().find("field.number.0").unwrap().unwrap();
        let now = start + seconds * 1000;
        let recent = store
            .reader()
            .history(series.id, now - 60_000, now, 1000)
            .unwrap();
        assert_eq!(recent.len(), 60, "the last minute, every second");
        let all = store
            .reader()
            .history(series.id, start, now, 100_000)
            .unwrap();
        assert!(all[0].t_ms > start, "the oldest samples were deleted");
    }

    #[test]
    fn foreign_files_and_links_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("notes.txt");
        std::fs::write(&text, "not a database, keep me").unwrap();
        let error = TrendStore::open(&text, Retention::default()).unwrap_err();
        assert!(
            matches!(error, StoreError::NotTrendDatabase { .. }),
            "{error}"
        );
        assert_eq!(
            std::fs::read_to_string(&text).unwrap(),
            "not a database, keep me"
        );
        let link = dir.path().join("link.db");
        std::os::unix::fs::symlink(dir.path().join("elsewhere.db"), &link).unwrap();
        assert!(TrendStore::open(&link, Retention::default()).is_err());
        assert!(
            !dir.path().join("elsewhere.db").exists(),
            "link not followed"
        );
        let fresh = dir.path().join("fresh.db");
        drop(TrendStore::open(&fresh, Retention::default()).unwrap());
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(TrendReader::open(&fresh).is_ok());
        assert!(matches!(
            TrendReader::open(dir.path().join("missing.db")),
            Err(StoreError::Io { .. })
        ));
    }
}
