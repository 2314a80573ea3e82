//! Stats out of memory images: RAM dumps taken over a debug probe or by an
//! emulator, core files, raw flash or disk images (`mmdump --image`).
//!
//! The image is scanned for format-2 regions at every 8-byte-aligned
//! offset with [`mmstats_nostd::scan::RegionScanner`]: the magic, then the
//! full prologue validation of a stats-file reader. Each region found is
//! decoded with the normal reader (either byte order: the prologue's mark
//! says which) and reported with where it was found: its offset in the
//! image and its address in the target's memory (`--base` plus the
//! offset). A candidate that fails validation (cut by the end of the image,
//! a future version, corrupt) is reported as an error, never read.
//!
//! Regular files are mapped read-only (`mmap(2)`, through the same
//! `SIGBUS`-guarded mapping the stats-file reader uses), so a 1 GiB image
//! is scanned at memory speed without being copied. Pipes and standard
//! input (`-`) are read into memory, up to [`STREAM_MAX_BYTES`].

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mmstats_nostd::scan::RegionScanner;
use mmstats_nostd::{
    ByteImage, DEFAULT_MAX_TRIES, MAX_COPY_WORDS, ReadError, RegionState, RegionView, WordSource,
};
use serde_json::{Value as Json, json};

use crate::dump::{self, Report};
use mmstats::ReadMap;
use mmstats::{Field, FieldValue, FileStats, Format, Liveness, RegionInfo, unit_name};

/// Largest image read from a pipe or standard input (files are mapped
/// instead, whatever their size).
pub const STREAM_MAX_BYTES: u64 = 2 << 30;

/// How often a region that changes under the reader (an image file that
/// someone is rewriting) is read again before it is reported as unstable.
const READ_ATTEMPTS: usize = 3;

/// Everything found in one image.
#[derive(Clone, Debug)]
pub struct ImageScan {
    /// The image (`-` for standard input).
    pub path: PathBuf,
    /// Address of the image's first byte in the target's memory, if given.
    pub base: Option<u64>,
    /// Bytes scanned.
    pub len: u64,
    /// Regions found, in image order.
    pub regions: Vec<ImageRegion>,
    /// Candidates that carry the magic and a byte-order mark but failed
    /// validation, in image order.
    pub damaged: Vec<DamagedRegion>,
    /// Matches of the magic without a byte-order mark behind them (not
    /// region headers; the magic constant in a program's code, say).
    pub ignored_magic: usize,
    /// Time taken to scan the image and decode its regions (mapping or
    /// reading the file included).
    pub elapsed: Duration,
}

/// A region found in an image, decoded.
#[derive(Clone, Debug)]
pub struct ImageRegion {
    /// Byte offset of the region in the image.
    pub offset: u64,
    /// Its fields, as a stats file's. `path` is the image's; the writer is
    /// `unknown` unless the region was closed.
    pub stats: FileStats,
}

/// A candidate that is not a readable region.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DamagedRegion {
    /// Byte offset of the magic in the image.
    pub offset: u64,
    /// Why it was not read.
    pub reason: DamageReason,
}

/// Why a candidate region was not read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DamageReason {
    /// Its prologue or table is not a valid format-2 region.
    Format(mmstats_nostd::OpenError),
    /// It changed under every read attempt (an image being rewritten).
    Unstable,
}

impl fmt::Display for DamageReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Format(error) => write!(f, "format 2: {error}"),
            Self::Unstable => f.write_str("region was re-initialised during every read attempt"),
        }
    }
}

impl std::error::Error for DamageReason {}

impl ImageScan {
    /// The address in the target's memory of byte `offset` of the image:
    /// `base + offset` (the offset itself without a base).
    #[must_use]
    pub fn address(&self, offset: u64) -> u64 {
        // Cannot overflow: `scan_image` refuses a base whose image would
        // run past the end of the address space.
        self.base.unwrap_or(0).saturating_add(offset)
    }

    /// Where `offset` is, for people: `offset 0x40, address 0x20000040`.
    #[must_use]
    pub fn locate(&self, offset: u64) -> String {
        match self.base {
            Some(_) => format!("offset {offset:#x}, address {:#x}", self.address(offset)),
            None => format!("offset {offset:#x}"),
        }
    }

    /// Whether anything is wrong: a damaged candidate, a field that could
    /// not be read, or no region at all.
    #[must_use]
    pub fn has_errors(&self) -> bool {
        self.regions.is_empty()
            || !self.damaged.is_empty()
            || self.regions.iter().any(|r| !r.stats.problems.is_empty())
    }
}

/// Why an image could not be scanned at all.
#[derive(Debug)]
pub struct ImageError {
    /// The image.
    pub path: PathBuf,
    /// Why.
    pub reason: ImageFailure,
}

/// What went wrong with an image as a whole.
#[derive(Debug)]
pub enum ImageFailure {
    /// A system call failed.
    Io {
        /// What was being done.
        operation: &'static str,
        /// The system's reason.
        source: io::Error,
    },
    /// A directory, socket or device: not an image.
    NotAnImage,
    /// A pipe delivered more than [`STREAM_MAX_BYTES`].
    StreamTooLarge,
    /// The file is larger than this machine's address space.
    TooLarge {
        /// Its length.
        len: u64,
    },
    /// `base + length` runs past the end of the 64-bit address space.
    AddressOverflow {
        /// The base given.
        base: u64,
        /// The image's length.
        len: u64,
    },
    /// The file shrank while it was being scanned.
    TruncatedWhileReading,
}

impl fmt::Display for ImageFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { operation, source } => write!(f, "{operation} failed: {source}"),
            Self::NotAnImage => f.write_str("not a file or a pipe; give a memory image"),
            Self::StreamTooLarge => write!(
                f,
                "more than {} bytes from a pipe; save the image to a file and scan that",
                STREAM_MAX_BYTES
            ),
            Self::TooLarge { len } => write!(f, "{len} bytes is too large to map"),
            Self::AddressOverflow { base, len } => write!(
                f,
                "base {base:#x} plus the image's {len} bytes runs past the 64-bit address space"
            ),
            Self::TruncatedWhileReading => {
                f.write_str("file was truncated while being scanned; results discarded")
            }
        }
    }
}

impl fmt::Display for ImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.reason)
    }
}

impl std::error::Error for ImageError {}

/// An `--base` that is no address: hexadecimal with 0x, or decimal, up to
/// 64 bits.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AddressError {
    /// The text given.
    pub text: String,
}

impl fmt::Display for AddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` is not an address (hexadecimal with 0x, or decimal, up to 64 bits)",
            self.text
        )
    }
}

impl std::error::Error for AddressError {}

/// Parses an address: `0x2000_0000`, `0X20000000` or decimal `536870912`.
pub fn parse_address(text: &str) -> Result<u64, AddressError> {
    let digits = text.trim().replace('_', "");
    let parsed = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => digits.parse::<u64>(),
    };
    parsed.map_err(|_| AddressError { text: text.into() })
}

/// Scans the image at `path` (`-`: standard input) for regions and decodes
/// each; `base` is the address of its first byte in the target's memory.
pub fn scan_image(path: &Path, base: Option<u64>) -> Result<ImageScan, ImageError> {
    let fail = |reason| ImageError {
        path: path.to_owned(),
        reason,
    };
    let io_fail = |operation| move |source| fail(ImageFailure::Io { operation, source });
    let started = Instant::now();
    let mut scan = ImageScan {
        path: path.to_owned(),
        base,
        len: 0,
        regions: Vec::new(),
        damaged: Vec::new(),
        ignored_magic: 0,
        elapsed: Duration::ZERO,
    };
    let stream_fail = |error| match error {
        StreamError::Io(source) => fail(ImageFailure::Io {
            operation: "read",
            source,
        }),
        StreamError::TooLarge => fail(ImageFailure::StreamTooLarge),
    };
    if path == Path::new("-") {
        let bytes = read_stream(io::stdin().lock()).map_err(stream_fail)?;
        scan_bytes(&mut scan, &bytes).map_err(fail)?;
    } else {
        // The user named this file: symbolic links are followed (a core
        // file behind a `latest` link), unlike in the stats directory.
        let file = File::open(path).map_err(io_fail("open"))?;
        let meta = file.metadata().map_err(io_fail("fstat"))?;
        let kind = meta.file_type();
        if kind.is_file() {
            scan_file(&mut scan, &file, meta.len()).map_err(fail)?;
        } else if kind.is_fifo() || (kind.is_char_device() && is_stdin_like(path)) {
            let bytes = read_stream(file).map_err(stream_fail)?;
            scan_bytes(&mut scan, &bytes).map_err(fail)?;
        } else {
            return Err(fail(ImageFailure::NotAnImage));
        }
    }
    scan.elapsed = started.elapsed();
    Ok(scan)
}

/// `/dev/stdin` and `/dev/fd/N` may be terminals or pipes behind a
/// character device node: read them as streams.
fn is_stdin_like(path: &Path) -> bool {
    path.starts_with("/dev/fd") || path == Path::new("/dev/stdin")
}

enum StreamError {
    Io(io::Error),
    TooLarge,
}

fn read_stream(reader: impl Read) -> Result<Vec<u8>, StreamError> {
    let mut bytes = Vec::new();
    let got = reader
        .take(STREAM_MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(StreamError::Io)?;
    if got as u64 > STREAM_MAX_BYTES {
        return Err(StreamError::TooLarge);
    }
    Ok(bytes)
}

fn check_base(scan: &ImageScan, len: u64) -> Result<(), ImageFailure> {
    match scan.base {
        Some(base) if base.checked_add(len).is_none() => {
            Err(ImageFailure::AddressOverflow { base, len })
        }
        _ => Ok(()),
    }
}

fn scan_bytes(scan: &mut ImageScan, bytes: &[u8]) -> Result<(), ImageFailure> {
    scan.len = bytes.len() as u64;
    check_base(scan, scan.len)?;
    scan_source(scan, &ByteImage::new(bytes));
    Ok(())
}

fn scan_file(scan: &mut ImageScan, file: &File, len: u64) -> Result<(), ImageFailure> {
    scan.len = len;
    check_base(scan, len)?;
    if len < 8 {
        // Not even one word: nothing to map, nothing to find.
        return Ok(());
    }
    let map_len = usize::try_from(len).map_err(|_| ImageFailure::TooLarge { len })?;
    let map = ReadMap::shared(file, map_len).map_err(|source| ImageFailure::Io {
        operation: "mmap",
        source,
    })?;
    scan_source_extents(scan, &map.words(), &data_extents(file, len));
    // What was read after a page vanished is zeros, not the image.
    if map.faulted() {
        return Err(ImageFailure::TruncatedWhileReading);
    }
    Ok(())
}

/// Most data extents of a sparse image looked up; past them, the rest of
/// the file is scanned as one extent.
const MAX_EXTENTS: usize = 1 << 16;

/// The word ranges of `file` that hold data (`lseek(SEEK_DATA)` and
/// `SEEK_HOLE`): a sparse image's holes read as zeros and hold no region,
/// and faulting them in would cost real memory on tmpfs (a 1 TiB sparse
/// file would be scanned for hours). A file system without hole support
/// reports the whole file as data.
fn data_extents(file: &File, len: u64) -> Vec<(usize, usize)> {
    use rustix::fs::{SeekFrom, seek};
    let words = |bytes: u64| usize::try_from(bytes / 8).unwrap_or(usize::MAX);
    let mut extents = Vec::new();
    let mut at = 0u64;
    while at < len {
        if extents.len() == MAX_EXTENTS {
            extents.push((words(at), words(len.div_ceil(8) * 8)));
            break;
        }
        let Ok(start) = seek(file, SeekFrom::Data(at)) else {
            // ENXIO: no data after `at`; anything else: scan the rest.
            if extents.is_empty() {
                extents.push((0, words(len.div_ceil(8) * 8)));
            }
            break;
        };
        let end = seek(file, SeekFrom::Hole(start)).unwrap_or(len).min(len);
        if end <= start {
            break;
        }
        // Word-aligned, rounding outwards (extents are page-aligned anyway).
        extents.push((words(start), words(end.div_ceil(8) * 8)));
        at = end;
    }
    extents
}

fn scan_source<S: WordSource + ?Sized>(scan: &mut ImageScan, source: &S) {
    scan_source_extents(scan, source, &[(0, usize::MAX)]);
}

fn scan_source_extents<S: WordSource + ?Sized>(
    scan: &mut ImageScan,
    source: &S,
    extents: &[(usize, usize)],
) {
    let mut scratch = vec![0u64; MAX_COPY_WORDS];
    let mut scanner = RegionScanner::new(source);
    for &(start, end) in extents {
        scanner.limit_to(start, end);
        scan_found(scan, &mut scanner, &mut scratch);
    }
    scan.ignored_magic = scanner.ignored();
}

fn scan_found<S: WordSource + ?Sized>(
    scan: &mut ImageScan,
    scanner: &mut RegionScanner<'_, S>,
    scratch: &mut [u64],
) {
    for found in scanner.by_ref() {
        let offset = found.offset() as u64;
        match found.region {
            Ok(view) => match decode(&view, &scan.path, scratch) {
                Ok(stats) => scan.regions.push(ImageRegion { offset, stats }),
                Err(reason) => scan.damaged.push(DamagedRegion { offset, reason }),
            },
            Err(error) => scan.damaged.push(DamagedRegion {
                offset,
                reason: DamageReason::Format(error),
            }),
        }
    }
}

/// Reads every field of a validated region, as `read_file` does for a
/// stats file.
fn decode<S: WordSource + ?Sized>(
    view: &RegionView<'_, S>,
    path: &Path,
    scratch: &mut [u64],
) -> Result<FileStats, DamageReason> {
    for _ in 0..READ_ATTEMPTS {
        let count = view.field_count().map_err(DamageReason::Format)?;
        // Grown as entries validate, never sized from the claimed count.
        let mut fields = Vec::new();
        let mut problems = Vec::new();
        // FORMAT.md §4.2, as every stats-file reader applies it: repeats
        // are reported after the other problems.
        let mut repeats = mmstats::RepeatFilter::new();
        let mut repeated = Vec::new();
        for index in 0..count {
            let info = match view.entry(index) {
                Ok(Some(info)) => info,
                Ok(None) => continue,
                // A hole below the count: a forged count; the walk ends.
                Err(mmstats_nostd::EntryError::Empty { index }) => {
                    return Err(DamageReason::Format(mmstats_nostd::OpenError::EmptyEntry {
                        index,
                        count: count as u64,
                    }));
                }
                Err(error) => {
                    problems.push(mmstats::FieldProblem::Entry(error));
                    continue;
                }
            };
            if let Some(problem) = repeats.check(&info) {
                repeated.push(problem);
                continue;
            }
            match view.read(&info, scratch, DEFAULT_MAX_TRIES) {
                Ok(value) => fields.push(Field {
                    name: info.name.to_string(),
                    labels: info.labels.clone(),
                    unit: unit_name(&info),
                    description: info.description.to_string(),
                    value: FieldValue::from_value(value),
                }),
                // A kind from a newer minor version: skipped, as the format
                // says, and not an error.
                Err(ReadError::UnknownKind { .. }) => {}
                Err(error) => {
                    problems.push(mmstats::FieldProblem::value(&info, error));
                }
            }
        }
        problems.append(&mut repeated);
        // A memory image does not change; an image file being rewritten
        // (or a live stats file given as an image) may.
        if !view.still_valid() {
            continue;
        }
        let region = RegionInfo::from_view(view, count);
        let state = region.state;
        let pid = view.prologue().pid;
        return Ok(FileStats {
            path: path.to_owned(),
            format: Format::Mmstats2,
            pid: (pid != 0).then_some(pid),
            // The writer ran elsewhere (another machine, a dead process):
            // only a region it closed says anything about it.
            liveness: if state == RegionState::Closed {
                Liveness::Closed
            } else {
                Liveness::Unknown
            },
            region: Some(region),
            fields,
            problems,
        });
    }
    Err(DamageReason::Unstable)
}

/// The images named, scanned; the ones that could not be read at all.
#[derive(Debug, Default)]
pub struct ImageReport {
    /// Images scanned.
    pub scans: Vec<ImageScan>,
    /// Images that could not be scanned.
    pub errors: Vec<ImageError>,
}

impl ImageReport {
    /// Whether anything failed: an image, a candidate, a field, or an
    /// image without any region.
    #[must_use]
    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty() || self.scans.iter().any(ImageScan::has_errors)
    }

    /// Every problem as a line for standard error, naming the image and
    /// where in it.
    #[must_use]
    pub fn error_lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .errors
            .iter()
            .map(|e| dump::printable(&e.to_string()))
            .collect();
        for scan in &self.scans {
            let path = dump::printable(&scan.path.display().to_string());
            for region in &scan.regions {
                for problem in &region.stats.problems {
                    lines.push(format!(
                        "{path}: region at {}: {}",
                        scan.locate(region.offset),
                        dump::printable(&problem.to_string())
                    ));
                }
            }
            for damaged in &scan.damaged {
                lines.push(format!(
                    "{path}: candidate at {}: {}",
                    scan.locate(damaged.offset),
                    dump::printable(&damaged.reason.to_string())
                ));
            }
            if scan.regions.is_empty() && scan.damaged.is_empty() {
                lines.push(format!("{path}: {}", no_region_message(scan)));
            }
        }
        lines
    }
}

fn no_region_message(scan: &ImageScan) -> String {
    format!("no format-2 region in {} bytes", scan.len)
}

/// Scans every image of `paths` (see [`scan_image`]).
#[must_use]
pub fn collect(paths: &[PathBuf], base: Option<u64>) -> ImageReport {
    let mut report = ImageReport::default();
    for path in paths {
        match scan_image(path, base) {
            Ok(scan) => report.scans.push(scan),
            Err(error) => report.errors.push(error),
        }
    }
    report
}

/// Bytes for people: `64 KiB`, `1.0 GiB`.
fn human_bytes(len: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut value = len as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{len} bytes")
    } else if value.fract() == 0.0 {
        format!("{value} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Writes the text dump of `mmdump --image`: the regions of each image as
/// `mmdump` prints files (the header names the image and where the region
/// is), then one summary line per image.
pub fn write_text(out: &mut impl Write, report: &ImageReport) -> io::Result<()> {
    let mut first = true;
    for scan in &report.scans {
        if !scan.regions.is_empty() {
            let files = scan
                .regions
                .iter()
                .map(|region| {
                    let mut stats = region.stats.clone();
                    stats.path = PathBuf::from(format!(
                        "{} [{}]",
                        scan.path.display(),
                        scan.locate(region.offset)
                    ));
                    stats
                })
                .collect();
            if !first {
                writeln!(out)?;
            }
            dump::write_text(
                out,
                &Report {
                    files,
                    errors: Vec::new(),
                },
            )?;
            first = false;
        }
        let mut summary = format!(
            "-- {}: {} scanned in {:.3} s: {} region{}",
            dump::printable(&scan.path.display().to_string()),
            human_bytes(scan.len),
            scan.elapsed.as_secs_f64(),
            scan.regions.len(),
            if scan.regions.len() == 1 { "" } else { "s" },
        );
        if !scan.damaged.is_empty() {
            summary.push_str(&format!(", {} damaged", scan.damaged.len()));
        }
        if scan.ignored_magic > 0 {
            summary.push_str(&format!(
                ", {} magic match{} without a header ignored",
                scan.ignored_magic,
                if scan.ignored_magic == 1 { "" } else { "es" }
            ));
        }
        if !first {
            writeln!(out)?;
        }
        writeln!(out, "{summary}")?;
        first = false;
    }
    Ok(())
}

/// The JSON document of `mmdump --image --json`: schema 1 as for files
/// (each file is a region, with its image's `path`), plus `offset` and
/// `address` on every region and error, and an `images` list.
#[must_use]
pub fn to_json(report: &ImageReport) -> Json {
    let mut files = Vec::new();
    let mut errors: Vec<Json> = report
        .errors
        .iter()
        .map(|e| json!({"path": e.path.display().to_string(), "error": e.reason.to_string()}))
        .collect();
    let mut images = Vec::new();
    for scan in &report.scans {
        let path = scan.path.display().to_string();
        let stats: Vec<FileStats> = scan
            .regions
            .iter()
            .map(|region| FileStats {
                problems: Vec::new(),
                ..region.stats.clone()
            })
            .collect();
        let document = dump::to_json(&Report {
            files: stats,
            errors: Vec::new(),
        });
        let rendered = document["files"].as_array().cloned().unwrap_or_default();
        for (mut file, region) in rendered.into_iter().zip(&scan.regions) {
            if let Some(object) = file.as_object_mut() {
                object.insert("offset".into(), json!(region.offset));
                object.insert("address".into(), json!(scan.address(region.offset)));
                if let Some(info) = &region.stats.region {
                    let order = if info.little_endian { "little" } else { "big" };
                    object.insert("byte_order".into(), json!(order));
                }
            }
            files.push(file);
            for problem in &region.stats.problems {
                errors.push(json!({
                    "path": path,
                    "error": problem.to_string(),
                    "offset": region.offset,
                    "address": scan.address(region.offset),
                }));
            }
        }
        for damaged in &scan.damaged {
            errors.push(json!({
                "path": path,
                "error": damaged.reason.to_string(),
                "offset": damaged.offset,
                "address": scan.address(damaged.offset),
            }));
        }
        if scan.regions.is_empty() && scan.damaged.is_empty() {
            errors.push(json!({"path": path, "error": no_region_message(scan)}));
        }
        images.push(json!({
            "path": path,
            "bytes": scan.len,
            "base": scan.base,
            "regions": scan.regions.len(),
            "damaged": scan.damaged.len(),
            "ignored_magic": scan.ignored_magic,
            "scan_seconds": scan.elapsed.as_secs_f64(),
        }));
    }
    json!({
        "schema": dump::JSON_SCHEMA,
        "files": files,
        "errors": errors,
        "images": images,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_name_and_labels_shows_the_lowest_slot_as_stats_files_do() {
        let memory: Vec<mmstats_nostd::Word> =
            (0..1024).map(|_| mmstats_nostd::Word::new(0)).collect();
        let options = mmstats_nostd::RegionOptions {
            labels: true,
            ..mmstats_nostd::RegionOptions::default()
        };
        let mut region = mmstats_nostd::Region::create(&memory, &options).unwrap();
        for (n, conn) in ["1", "2", "1"].into_iter().enumerate() {
            let labels = [("conn", conn)];
            let spec = mmstats::FieldSpec::new("c").labels(&labels);
            region.counter(spec).unwrap().add(n as u64 + 1);
        }
        let bytes: Vec<u8> = memory
            .iter()
            .flat_map(|w| w.load(std::sync::atomic::Ordering::Relaxed).to_ne_bytes())
            .collect();
        let image = ByteImage::new(&bytes);
        let view = RegionView::open(&image).unwrap();
        let mut scratch = vec![0u64; MAX_COPY_WORDS];
        let stats = decode(&view, Path::new("image"), &mut scratch).unwrap();
        let shown: Vec<(String, FieldValue)> = stats
            .fields
            .iter()
            .map(|f| (format!("{}{}", f.name, f.labels), f.value.clone()))
            .collect();
        assert_eq!(
            shown,
            vec![
                (r#"c{conn="1"}"#.to_owned(), FieldValue::Counter(1)),
                (r#"c{conn="2"}"#.to_owned(), FieldValue::Counter(2)),
            ]
        );
        assert_eq!(
            stats.problems,
            vec![mmstats::FieldProblem::Duplicate {
                index: 2,
                name: "c".to_owned(),
                labels: stats.fields[0].labels.clone(),
                first: 0,
            }]
        );
    }

    #[test]
    fn addresses_parse_in_hex_and_decimal() {
        assert_eq!(parse_address("0x20000000"), Ok(0x2000_0000));
        assert_eq!(parse_address("0X2000_0000"), Ok(0x2000_0000));
        assert_eq!(parse_address("4096"), Ok(4096));
        assert_eq!(parse_address("0xffffffffffffffff"), Ok(u64::MAX));
        assert!(parse_address("0x1_0000_0000_0000_0000").is_err());
        assert!(parse_address("-1").is_err());
        assert!(parse_address("0xg").is_err());
        assert!(parse_address("").is_err());
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(human_bytes(100), "100 bytes");
        assert_eq!(human_bytes(65536), "64 KiB");
        assert_eq!(human_bytes(1 << 30), "1 GiB");
        assert_eq!(human_bytes(1536), "1.5 KiB");
    }

    #[test]
    fn a_base_that_overflows_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("image.bin");
        std::fs::write(&path, [0u8; 64]).unwrap();
        let error = scan_image(&path, Some(u64::MAX - 10)).unwrap_err();
        assert!(matches!(
            error.reason,
            ImageFailure::AddressOverflow { len: 64, .. }
        ));
        assert!(error.to_string().contains("image.bin"));
    }
}
