//! Reading a trend database back: [`TrendReader`] opens it read-only,
//! [`TrendQuery`] lists series and gives their points.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use super::{
    Point, SeriesInfo, SeriesSummary, StoreError, check_companions, check_identity,
    check_same_file, open_database, sqlite_error,
};

/// A read-only connection to a trend database (the dashboard's, or
/// `mmdump trend`'s).
#[derive(Debug)]
pub struct TrendReader {
    conn: Connection,
    path: PathBuf,
    /// The database as checked; after `conn` (see [`TrendStore`]).
    _file: File,
}

impl TrendReader {
    /// Opens `path` read-only (never created, never a symbolic link, a
    /// FIFO or a device; see the module docs).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref();
        let file = open_database(path, false)?;
        check_companions(path, false)?;
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_NOFOLLOW,
        )
        .map_err(sqlite_error(path, "open"))?;
        check_same_file(&file, path)?;
        conn.busy_timeout(Duration::from_secs(2))
            .map_err(sqlite_error(path, "set the busy timeout"))?;
        check_identity(&conn, path, false)?;
        Ok(Self {
            conn,
            path: path.to_owned(),
            _file: file,
        })
    }

    /// Queries.
    #[must_use]
    pub fn query(&self) -> TrendQuery<'_> {
        TrendQuery {
            conn: &self.conn,
            path: &self.path,
        }
    }
}

/// Queries over a trend database.
#[derive(Clone, Copy, Debug)]
pub struct TrendQuery<'c> {
    pub(super) conn: &'c Connection,
    pub(super) path: &'c Path,
}

impl TrendQuery<'_> {
    /// Every series, by name.
    pub fn series(&self) -> Result<Vec<SeriesInfo>, StoreError> {
        let run = || -> Result<Vec<SeriesInfo>, rusqlite::Error> {
            let mut statement = self
                .conn
                .prepare("SELECT id, name, kind, unit FROM series ORDER BY name, kind")?;
            statement
                .query_map([], |r| {
                    Ok(SeriesInfo {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        kind: r.get(2)?,
                        unit: r.get(3)?,
                    })
                })?
                .collect()
        };
        run().map_err(sqlite_error(self.path, "list series"))
    }

    /// Per series: samples stored (all tiers) and the first and last
    /// time (strings: their changes).
    pub fn summary(&self) -> Result<Vec<SeriesSummary>, StoreError> {
        let series = self.series()?;
        let run = |info: &SeriesInfo| -> Result<(u64, Option<i64>, Option<i64>), rusqlite::Error> {
            let table = if info.kind == "string" {
                "texts"
            } else {
                "samples"
            };
            self.conn.query_row(
                &format!("SELECT count(*), min(t), max(t) FROM {table} WHERE series = ?1"),
                params![info.id],
                |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?, r.get(2)?)),
            )
        };
        series
            .into_iter()
            .map(|info| {
                let (rows, first_ms, last_ms) =
                    run(&info).map_err(sqlite_error(self.path, "summarise a series"))?;
                Ok(SeriesSummary {
                    info,
                    rows,
                    first_ms,
                    last_ms,
                })
            })
            .collect()
    }

    /// The series named `name` (any kind; the first by kind if several).
    pub fn find(&self, name: &str) -> Result<Option<SeriesInfo>, StoreError> {
        self.conn
            .query_row(
                "SELECT id, name, kind, unit FROM series WHERE name = ?1 ORDER BY kind LIMIT 1",
                params![name],
                |r| {
                    Ok(SeriesInfo {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        kind: r.get(2)?,
                        unit: r.get(3)?,
                    })
                },
            )
            .optional()
            .map_err(sqlite_error(self.path, "find a series"))
    }

    /// Rows per tier (0, 1, 2) of the samples table, and of the texts.
    pub fn row_counts(&self) -> Result<([u64; 3], u64), StoreError> {
        let run = || -> Result<([u64; 3], u64), rusqlite::Error> {
            let mut tiers = [0u64; 3];
            let mut statement = self
                .conn
                .prepare("SELECT tier, count(*) FROM samples GROUP BY tier")?;
            let rows =
                statement.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))?;
            for row in rows {
                let (tier, count) = row?;
                if let Some(slot) = usize::try_from(tier).ok().and_then(|t| tiers.get_mut(t)) {
                    *slot = count as u64;
                }
            }
            let texts: i64 = self
                .conn
                .query_row("SELECT count(*) FROM texts", [], |r| r.get(0))?;
            Ok((tiers, texts as u64))
        };
        run().map_err(sqlite_error(self.path, "count rows"))
    }

    /// The history of a series between `since_ms` and `until_ms`, at most
    /// about `max_points` points: the finest tier where it has data, the
    /// coarser tiers before that, averaged into equal steps.
    pub fn history(
        &self,
        series: i64,
        since_ms: i64,
        until_ms: i64,
        max_points: usize,
    ) -> Result<Vec<Point>, StoreError> {
        let span = (until_ms - since_ms).max(1);
        let step = (span / max_points.max(1) as i64).max(1);
        let run = || -> Result<Vec<Point>, rusqlite::Error> {
            let mut statement = self.conn.prepare(
                "SELECT (t / ?1) * ?1 AS bucket, sum(value * n) / sum(n), min(min), max(max),
                        sum(rate * n) / sum(CASE WHEN rate IS NULL THEN 0 ELSE n END)
                 FROM samples WHERE series = ?2 AND tier = ?3 AND t >= ?4 AND t <= ?5
                 GROUP BY bucket ORDER BY bucket",
            )?;
            let mut points: Vec<Point> = Vec::new();
            // Finest first; a coarser tier fills in only before the first
            // point of the finer ones.
            let mut covered_from = i64::MAX;
            for tier in 0u8..3 {
                let rows =
                    statement.query_map(params![step, series, tier, since_ms, until_ms], |r| {
                        Ok(Point {
                            t_ms: r.get(0)?,
                            value: r.get(1)?,
                            min: r.get(2)?,
                            max: r.get(3)?,
                            rate: r.get(4)?,
                            tier,
                        })
                    })?;
                let mut first = None;
                for point in rows {
                    let point = point?;
                    if point.t_ms < covered_from {
                        first = Some(first.map_or(point.t_ms, |f: i64| f.min(point.t_ms)));
                        points.push(point);
                    }
                }
                if let Some(first) = first {
                    covered_from = covered_from.min(first);
                }
            }
            points.sort_by_key(|p| p.t_ms);
            Ok(points)
        };
        run().map_err(sqlite_error(self.path, "read history"))
    }

    /// A string series' changes between `since_ms` and `until_ms` (at
    /// most `limit`, the newest).
    pub fn texts(
        &self,
        series: i64,
        since_ms: i64,
        until_ms: i64,
        limit: usize,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        let run = || -> Result<Vec<(i64, String)>, rusqlite::Error> {
            let mut statement = self.conn.prepare(
                "SELECT t, value FROM texts WHERE series = ?1 AND t >= ?2 AND t <= ?3
                 ORDER BY t DESC LIMIT ?4",
            )?;
            let mut rows = statement
                .query_map(params![series, since_ms, until_ms, limit as i64], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            rows.reverse();
            Ok(rows)
        };
        run().map_err(sqlite_error(self.path, "read strings"))
    }
}
