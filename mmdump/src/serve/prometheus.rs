//! The Prometheus text exposition format (version 0.0.4) and OpenMetrics
//! 1.0 text, written by hand: metric families, names that follow
//! Prometheus' conventions, escaping, and content negotiation.
//!
//! Why not an encoding crate: `prometheus-client` writes OpenMetrics only
//! and wants metrics registered up front under names it suffixes itself;
//! the `prometheus` crate writes the 0.0.4 format only, through its own
//! registry types. An exporter of fields discovered at scrape time needs
//! both formats from one model, so the two small, well-specified text
//! formats are written here, with tests for every escape and suffix rule
//! and `promtool check metrics` plus a real Prometheus server in the
//! integration tests.
//!
//! ## The model
//!
//! A [`Family`] has a base name, a [`MetricType`], an optional unit, a
//! help text and [`Metric`]s (label sets with a [`MetricValue`]). The
//! base name is the OpenMetrics family name: without `_total` for a
//! counter and without `_info` for an info metric. [`families_of`] maps
//! one mmstats field to its families, with a `match` on the field's value:
//! that is the one place a new kind of field (a histogram) plugs in.
//!
//! ## Names (see `docs/SERVE.md`)
//!
//! `namespace` + `_` + the field's name with every character outside
//! `[A-Za-z0-9_]` made `_` (runs of `_` collapsed), then the unit: values
//! in milliseconds, microseconds or nanoseconds are converted to seconds,
//! bits to bytes and percent to a ratio; a name word that names the
//! field's unit (`ms`, `millis`, `usec`, `pct`, ...) is replaced by the
//! base unit (`latency_ms` becomes `latency_seconds`), and the base unit is
//! appended unless a word of the name already is it (`bytes_out` stays).
//! Counters end in `_total`, timestamps in `_timestamp_seconds`, strings
//! are info metrics (`_info`, the string in the `value` label).
//!
//! ## Labels and clashes
//!
//! A field's own labels (format 2.2) follow the group's (`program`, ...)
//! under the names [`field_label_names`] gives (a `field_` prefix for a
//! reserved or exporter name), so each label set of a name is a series of
//! one family. Families that would share a name (or sample names) are
//! named by one order-independent rule in [`Merger::finish`], which drops
//! a family only when none of the names the rule offers is free, and
//! [`limit_series`] bounds the label sets of a family.

//!
//! One job a file: `model` (the types above), `names` (metric names
//! and units), `families` (a field's families and labels), `merge`
//! (clashes and the series bound) and `text` (escaping and encoding).
//! Their items are re-exported here.

use std::fmt::Write as _;
use std::sync::Arc;

use mmstats::{Field, FieldValue};

mod families;
mod merge;
mod model;
mod names;
mod text;

pub use families::*;
pub use merge::*;
pub use model::*;
pub use names::*;
pub use text::*;

#[cfg(test)]
mod tests {
    use super::*;

    fn field(name: &str, unit: &str, value: FieldValue) -> Field {
        Field {
            name: name.to_owned(),
            labels: mmstats::Labels::new(),
            unit: unit.to_owned(),
            description: String::new(),
            value,
        }
    }

    fn options() -> NameOptions {
        NameOptions {
            namespace: "mmstats".into(),
            strings: true,
        }
    }

    /// A histogram's value, as read from a file.
    fn histogram_value() -> FieldValue {
        let dir = tempfile::tempdir().unwrap();
        let file = mmstats::StatsFile::builder("h")
            .dir(dir.path())
            .size(1 << 20)
            .create()
            .unwrap();
        file.histogram_timer("latency")
            .unwrap()
            .record(std::time::Duration::from_micros(3));
        let read = mmstats::read_file(file.path()).unwrap();
        read.fields
            .into_iter()
            .find(|f| f.name == "latency")
            .unwrap()
            .value
    }

    fn label(name: &str, value: &str) -> (String, String) {
        (name.to_owned(), value.to_owned())
    }

    #[test]
    fn format_2_1_kinds_become_histograms_gauges_and_counters() {
        let dir = tempfile::tempdir().unwrap();
        let file = mmstats::StatsFile::builder("h")
            .dir(dir.path())
            .size(1 << 20)
            .create()
            .unwrap();
        let timer = file.histogram_timer("latency").unwrap();
        for micros in [1u64, 3, 3, 40, 900, 20_000] {
            timer.record(std::time::Duration::from_micros(micros));
        }
        file.moving_average(mmstats::FieldSpec::new("load").window(4))
            .unwrap()
            .add(0.5);
        file.event_ring(mmstats::FieldSpec::new("events").slots(8))
            .unwrap()
            .event(1, &[2]);
        let read = mmstats::read_file(file.path()).unwrap();
        let families: Vec<Family> = read
            .fields
            .iter()
            .flat_map(|f| families_of(f, &[label("program", "x")], &options()))
            .collect();
        let names: Vec<&str> = families.iter().map(|f| f.name.as_str()).collect();
        let by_name = |name: &str| {
            families
                .iter()
                .find(|f| f.name == name)
                .unwrap_or_else(|| panic!("no {name} in {names:?}"))
        };

        let latency = by_name("mmstats_latency_seconds");
        assert_eq!(latency.kind, MetricType::Histogram);
        let MetricValue::Histogram {
            buckets,
            sum,
            count,
        } = &latency.metrics[0].value
        else {
            panic!("not a histogram: {latency:?}");
        };
        assert_eq!(*count, 6);
        assert!((sum - 0.020_947).abs() < 1e-9, "sum in seconds: {sum}");
        // Fixed bounds 2^e - 1 ns in seconds, cumulative, exact.
        assert!(
            buckets
                .windows(2)
                .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1)
        );
        let at = |ns: u64| {
            buckets
                .iter()
                .find(|(bound, _)| (bound - ns as f64 * 1e-9).abs() < 1e-15)
                .map(|&(_, cumulative)| cumulative)
        };
        assert_eq!(at(1023), Some(1), "values <= 1023 ns");
        assert_eq!(at(4095), Some(3), "1 us and twice 3 us");
        assert_eq!(at(65_535), Some(4));
        assert_eq!(at(1_048_575), Some(5));
        assert_eq!(buckets.last().unwrap().1, 6);
        let text = encode(&families, Format::Prometheus);
        assert!(text.contains("# TYPE mmstats_latency_seconds histogram\n"));
        assert!(text.contains("mmstats_latency_seconds_bucket{program=\"x\",le=\"+Inf\"} 6\n"));

        assert_eq!(by_name("mmstats_load").kind, MetricType::Gauge);
        let events = by_name("mmstats_events_appended");
        assert_eq!(events.kind, MetricType::Counter);
        assert_eq!(
            events.metrics[0].value,
            MetricValue::Counter(Number::Int(1))
        );
    }

    #[test]
    fn names_follow_prometheus_conventions() {
        let name = |field: &str, unit: &str, kind| metric_name("ns", field, unit, kind).family;
        assert_eq!(
            name("web.requests", "", MetricType::Counter),
            "ns_web_requests"
        );
        assert_eq!(
            name("web.requests.total", "", MetricType::Counter),
            "ns_web_requests"
        );
        assert_eq!(name("a-b c/d..e.", "", MetricType::Gauge), "ns_a_b_c_d_e");
        assert_eq!(
            name("latency", "milliseconds", MetricType::Summary),
            "ns_latency_seconds"
        );
        assert_eq!(
            name("latency_ms", "milliseconds", MetricType::Gauge),
            "ns_latency_seconds"
        );
        assert_eq!(
            name("db.wait.usec", "microseconds", MetricType::Counter),
            "ns_db_wait_seconds"
        );
        assert_eq!(
            name("bytes_out", "bytes", MetricType::Counter),
            "ns_bytes_out"
        );
        assert_eq!(name("out", "bytes", MetricType::Counter), "ns_out_bytes");
        assert_eq!(name("link", "bits", MetricType::Counter), "ns_link_bytes");
        assert_eq!(
            name("cpu.pct", "percent", MetricType::Gauge),
            "ns_cpu_ratio"
        );
        assert_eq!(
            name("temp", "celsius", MetricType::Gauge),
            "ns_temp_celsius"
        );
        assert_eq!(name("events", "events", MetricType::Counter), "ns_events");
        assert_eq!(name("x", "unit(99)", MetricType::Gauge), "ns_x");
        assert_eq!(name("build.info", "", MetricType::Info), "ns_build");
        assert_eq!(
            metric_name("", "2fa.tries", "", MetricType::Counter).family,
            "_2fa_tries"
        );
        assert_eq!(metric_name("", "", "", MetricType::Gauge).family, "field");
        let latency = metric_name("ns", "latency", "milliseconds", MetricType::Summary);
        assert_eq!(latency.scale, 1e-3);
        assert_eq!(latency.unit_suffix, Some("seconds"));
        assert_eq!(
            metric_name("ns", "bytes_out", "bytes", MetricType::Counter).unit_suffix,
            None,
            "the unit is a word of the name, not its suffix: no # UNIT"
        );
        for n in ["ns_web_requests", "_2fa", "a:b"] {
            assert!(is_valid_metric_name(n), "{n}");
        }
        for n in ["", "2a", "a-b", "a.b"] {
            assert!(!is_valid_metric_name(n), "{n}");
        }
        assert!(is_valid_label_name("program"));
        assert!(!is_valid_label_name("__name__"));
        assert!(!is_valid_label_name("1x"));
    }

    #[test]
    fn every_kind_maps_to_its_type() {
        let labels = [label("program", "web")];
        let one = |f: Field| {
            let families = families_of(&f, &labels, &options());
            assert_eq!(families.len(), 1, "{f:?}");
            families.into_iter().next().unwrap()
        };
        let counter = one(field("web.requests", "", FieldValue::Counter(42)));
        assert_eq!(counter.kind, MetricType::Counter);
        assert_eq!(
            counter.metrics[0].value,
            MetricValue::Counter(Number::Int(42))
        );
        let ms = one(field("busy", "milliseconds", FieldValue::Counter(1500)));
        assert_eq!(ms.name, "mmstats_busy_seconds");
        assert_eq!(
            ms.metrics[0].value,
            MetricValue::Counter(Number::Float(1.5))
        );
        assert!(
            ms.help.contains("milliseconds converted to seconds"),
            "{}",
            ms.help
        );
        let gauge = one(field("g", "", FieldValue::Gauge(-3)));
        assert_eq!(gauge.metrics[0].value, MetricValue::Gauge(Number::Int(-3)));
        let flag = one(field("up", "", FieldValue::Bool(true)));
        assert_eq!(flag.metrics[0].value, MetricValue::Gauge(Number::Int(1)));
        let stamp = one(field(
            "last_request",
            "",
            FieldValue::Timestamp(1_500_000_000),
        ));
        assert_eq!(stamp.name, "mmstats_last_request_timestamp_seconds");
        assert_eq!(
            stamp.metrics[0].value,
            MetricValue::Gauge(Number::Float(1.5))
        );
        let unset = one(field("started_time", "", FieldValue::Timestamp(0)));
        assert_eq!(unset.name, "mmstats_started_time_seconds");
        assert!(unset.metrics.is_empty(), "an unset timestamp has no sample");
        let text = one(field("web.version", "", FieldValue::Text("1.2".into())));
        assert_eq!(text.kind, MetricType::Info);
        assert_eq!(text.name, "mmstats_web_version");
        assert_eq!(
            text.metrics[0].labels[..],
            [label("program", "web"), label("value", "1.2")]
        );
        let average = one(field(
            "latency",
            "microseconds",
            FieldValue::Average {
                sum: 3000.0,
                count: 2,
            },
        ));
        assert_eq!(average.kind, MetricType::Summary);
        assert_eq!(average.name, "mmstats_latency_seconds");
        assert_eq!(
            average.metrics[0].value,
            MetricValue::Summary {
                sum: 3000.0 * 1e-6,
                count: 2
            }
        );
        let no_strings = NameOptions {
            strings: false,
            ..options()
        };
        assert!(
            families_of(
                &field("s", "", FieldValue::Text("x".into())),
                &labels,
                &no_strings
            )
            .is_empty()
        );
    }

    #[test]
    fn both_formats_are_written() {
        let mut families = Vec::new();
        for f in [
            Field {
                description: "requests \"served\"\\ all\nworkers".into(),
                ..field("web.requests", "", FieldValue::Counter(7))
            },
            field(
                "latency",
                "seconds",
                FieldValue::Average { sum: 0.5, count: 4 },
            ),
            field("version", "", FieldValue::Text("a\"b\\c\nd".into())),
            field("load", "", FieldValue::Float(f64::NAN)),
        ] {
            families.extend(families_of(&f, &[label("program", "p\"q")], &options()));
        }
        let (families, dropped) = merge(families);
        assert!(dropped.is_empty());
        let text = encode(&families, Format::Prometheus);
        assert_eq!(
            text,
            "# HELP mmstats_latency_seconds (mmstats latency)\n\
             # TYPE mmstats_latency_seconds summary\n\
             mmstats_latency_seconds_sum{program=\"p\\\"q\"} 0.5\n\
             mmstats_latency_seconds_count{program=\"p\\\"q\"} 4\n\
             # HELP mmstats_load (mmstats load)\n\
             # TYPE mmstats_load gauge\n\
             mmstats_load{program=\"p\\\"q\"} NaN\n\
             # HELP mmstats_version_info (mmstats version)\n\
             # TYPE mmstats_version_info gauge\n\
             mmstats_version_info{program=\"p\\\"q\",value=\"a\\\"b\\\\c\\nd\"} 1\n\
             # HELP mmstats_web_requests_total requests \"served\"\\\\ all\\nworkers (mmstats web.requests)\n\
             # TYPE mmstats_web_requests_total counter\n\
             mmstats_web_requests_total{program=\"p\\\"q\"} 7\n"
        );
        let open = encode(&families, Format::OpenMetrics);
        assert!(open.contains("# TYPE mmstats_web_requests counter\nmmstats_web_requests_total{"));
        assert!(
            open.contains("# HELP mmstats_web_requests requests \\\"served\\\"\\\\ all\\nworkers")
        );
        assert!(open.contains("# TYPE mmstats_version info\nmmstats_version_info{"));
        assert!(open.contains(
            "# TYPE mmstats_latency_seconds summary\n# UNIT mmstats_latency_seconds seconds\n"
        ));
        assert!(open.ends_with("# EOF\n"));
        assert!(!text.contains("# EOF"));
    }

    #[test]
    fn histograms_get_cumulative_buckets_and_inf() {
        let family = Family {
            name: "h_seconds".into(),
            kind: MetricType::Histogram,
            unit: Some("seconds"),
            help: "h".into(),
            metrics: vec![Metric {
                labels: vec![label("program", "x")].into(),
                value: MetricValue::Histogram {
                    buckets: vec![(0.005, 1), (0.5, 3), (2.5, 4)],
                    sum: 3.25,
                    count: 5,
                },
            }],
        };
        let text = encode(&[family], Format::Prometheus);
        assert!(text.contains("h_seconds_bucket{program=\"x\",le=\"0.005\"} 1\n"));
        assert!(text.contains("h_seconds_bucket{program=\"x\",le=\"2.5\"} 4\n"));
        assert!(text.contains("h_seconds_bucket{program=\"x\",le=\"+Inf\"} 5\n"));
        assert!(
            text.contains("h_seconds_sum{program=\"x\"} 3.25\nh_seconds_count{program=\"x\"} 5\n")
        );
    }

    #[test]
    fn clashing_names_get_names_of_their_own_whatever_the_order() {
        let make = |name: &str, unit: &str, value: FieldValue, program: &str| {
            families_of(
                &field(name, unit, value),
                &[label("program", program)],
                &options(),
            )
        };
        let inputs = vec![
            make("web.requests", "", FieldValue::Counter(1), "a"),
            make("web.requests", "", FieldValue::Counter(2), "b"),
            // Same name, another kind.
            make("web-requests", "", FieldValue::Gauge(3), "c"),
            // A gauge named like the counter's sample.
            make("web.requests_total", "", FieldValue::Gauge(4), "d"),
            // The demo's pair: an average and a histogram, both
            // `worker_latency_seconds`.
            make(
                "worker.latency",
                "microseconds",
                FieldValue::Average { sum: 1.0, count: 1 },
                "a",
            ),
            make("worker.latency.ns", "nanoseconds", histogram_value(), "a"),
        ];
        let names = |families: &[Family]| -> Vec<(String, MetricType)> {
            families.iter().map(|f| (f.name.clone(), f.kind)).collect()
        };
        let (first, dropped) = merge(inputs.concat());
        assert!(dropped.is_empty(), "{dropped:?}");
        assert_eq!(
            names(&first),
            vec![
                ("mmstats_web_requests".into(), MetricType::Counter),
                ("mmstats_web_requests_current".into(), MetricType::Gauge),
                (
                    "mmstats_web_requests_total_current".into(),
                    MetricType::Gauge
                ),
                (
                    "mmstats_worker_latency_distribution_seconds".into(),
                    MetricType::Histogram
                ),
                ("mmstats_worker_latency_seconds".into(), MetricType::Summary),
            ]
        );
        assert_eq!(first[0].metrics.len(), 2, "same name and kind: merged");
        let histogram = &first[3];
        assert_eq!(histogram.unit, Some("seconds"));
        assert!(
            histogram.help.contains(
                "exported as mmstats_worker_latency_distribution_seconds: mmstats_worker_latency_seconds is another family's name"
            ),
            "{}",
            histogram.help
        );
        // Any order of discovery gives the same names.
        for rotation in 1..inputs.len() {
            let mut shuffled = inputs.clone();
            shuffled.rotate_left(rotation);
            shuffled.swap(0, rotation % 2);
            let (again, dropped) = merge(shuffled.concat());
            assert!(dropped.is_empty());
            assert_eq!(names(&again), names(&first), "rotation {rotation}");
            assert_eq!(again, first, "values and help too (rotation {rotation})");
        }
        // The exporter's own families keep their names; fields give way.
        let mut merger = Merger::default();
        merger.add(make("serve.files", "", FieldValue::Counter(1), "x").remove(0));
        // The same name, type and unit as the exporter's own: still renamed.
        merger.add(make("serve.files", "", FieldValue::Gauge(1), "x").remove(0));
        let own = Family {
            name: "mmstats_serve_files".into(),
            kind: MetricType::Gauge,
            unit: None,
            help: "own".into(),
            metrics: Vec::new(),
        };
        merger.add_reserved(own);
        let (families, _) = merger.finish();
        assert_eq!(
            names(&families),
            vec![
                ("mmstats_serve_files".into(), MetricType::Gauge),
                ("mmstats_serve_files_cumulative".into(), MetricType::Counter),
                ("mmstats_serve_files_current".into(), MetricType::Gauge),
            ]
        );
        assert!(
            families[0].metrics.is_empty(),
            "the own family took nothing in"
        );
    }

    #[test]
    fn numbered_names_follow_and_then_a_family_is_dropped() {
        // Gauges that take the names a clashing histogram `c` (gauges come first) would try.
        let gauge = |name: &str| Family {
            name: name.to_owned(),
            kind: MetricType::Gauge,
            unit: None,
            help: String::new(),
            metrics: Vec::new(),
        };
        let histogram = Family {
            kind: MetricType::Histogram,
            ..gauge("c")
        };
        let mut taken = vec![gauge("c"), gauge("c_distribution")];
        let (families, dropped) = merge([taken.clone(), vec![histogram.clone()]].concat());
        assert!(dropped.is_empty());
        assert!(
            families
                .iter()
                .any(|f| f.name == "c_distribution_2" && f.kind == MetricType::Histogram)
        );
        for n in 2..=9 {
            taken.push(gauge(&format!("c_distribution_{n}")));
        }
        let (families, dropped) = merge([taken.clone(), vec![histogram]].concat());
        assert_eq!(dropped, vec!["c"]);
        assert_eq!(families.len(), taken.len());
    }

    #[test]
    fn field_labels_become_prometheus_labels_by_one_rule() {
        let names = |keys: &[&str]| field_label_names(keys.iter().copied());
        assert_eq!(names(&["conn"]), ["conn"]);
        assert_eq!(
            names(&["le", "pid", "program", "quantile", "thread", "value"]),
            [
                "field_le",
                "field_pid",
                "field_program",
                "field_quantile",
                "field_thread",
                "field_value"
            ]
        );
        assert_eq!(
            names(&["field_pid", "pid"]),
            ["field_pid", "field_field_pid"]
        );
        assert_eq!(names(&["__name__"]), ["field___name__"]);
        assert_eq!(names(&["a-b", "9x", ""]), ["a_b", "_9x", "label"]);
        for name in names(&["__x", "pid", "a.b", "7"]) {
            assert!(is_valid_label_name(&name), "{name}");
        }

        let labelled = Field {
            labels: mmstats::Labels::from_pairs(&[("conn", "7\"\\x"), ("pid", "1")]).unwrap(),
            ..field("web.conn.bytes_in", "bytes", FieldValue::Counter(5))
        };
        let group = [label("program", "web")];
        let families = families_of(&labelled, &group, &options());
        assert_eq!(
            families[0].metrics[0].labels[..],
            [
                label("program", "web"),
                label("conn", "7\"\\x"),
                label("field_pid", "1")
            ]
        );
        let text = encode(&families, Format::Prometheus);
        assert!(
            text.contains(
                "mmstats_web_conn_bytes_in_total{program=\"web\",conn=\"7\\\"\\\\x\",field_pid=\"1\"} 5\n"
            ),
            "{text}"
        );
        // Two connections: one family, two series.
        let other = Field {
            labels: mmstats::Labels::from_pairs(&[("conn", "8")]).unwrap(),
            ..labelled.clone()
        };
        let (merged, _) = merge(
            [
                families_of(&labelled, &group, &options()),
                families_of(&other, &group, &options()),
            ]
            .concat(),
        );
        assert_eq!(merged.len(), 1);
        assert_eq!(merged[0].metrics.len(), 2);
        // A labelled string: its labels and the `value` label.
        let text = Field {
            labels: mmstats::Labels::from_pairs(&[("conn", "8"), ("value", "v")]).unwrap(),
            ..field("web.conn.peer", "", FieldValue::Text("10.0.0.1".into()))
        };
        let info = families_of(&text, &group, &options());
        assert_eq!(
            info[0].metrics[0].labels[..],
            [
                label("program", "web"),
                label("conn", "8"),
                label("field_value", "v"),
                label("value", "10.0.0.1")
            ]
        );
    }

    #[test]
    fn series_beyond_the_bound_are_cut_and_counted() {
        let group = [label("program", "web")];
        let mut families = Vec::new();
        for conn in (0..25).rev() {
            let f = Field {
                labels: mmstats::Labels::from_pairs(&[("conn", &format!("{conn:02}"))]).unwrap(),
                ..field("web.conn.bytes_in", "bytes", FieldValue::Counter(conn))
            };
            families.extend(families_of(&f, &group, &options()));
        }
        families.extend(families_of(
            &field("web.up", "", FieldValue::Bool(true)),
            &group,
            &options(),
        ));
        let (mut merged, _) = merge(families);
        let cut = limit_series(&mut merged, 10);
        assert_eq!(
            cut,
            vec![SeriesCut {
                family: "mmstats_web_conn_bytes_in".into(),
                had: 25,
                dropped: 15
            }]
        );
        let kept: Vec<&str> = merged[0]
            .metrics
            .iter()
            .map(|m| m.labels[1].1.as_str())
            .collect();
        assert_eq!(
            kept,
            ["00", "01", "02", "03", "04", "05", "06", "07", "08", "09"]
        );
        assert_eq!(merged[1].metrics.len(), 1);
    }

    #[test]
    fn floats_are_written_so_go_reads_them_back() {
        let show = |v: f64| {
            let mut s = String::new();
            write_float(&mut s, v);
            s
        };
        assert_eq!(show(3.0), "3");
        assert_eq!(show(-0.25), "-0.25");
        assert_eq!(show(1e300), "1e300");
        assert_eq!(show(1.5e20), "1.5e20");
        assert_eq!(show(2.5e-7), "2.5e-7");
        assert_eq!(show(1234.5), "1234.5");
        assert_eq!(show(f64::INFINITY), "+Inf");
        assert_eq!(show(f64::NEG_INFINITY), "-Inf");
        assert_eq!(show(f64::NAN), "NaN");
        assert_eq!(bound_label(f64::INFINITY), "+Inf");
        assert_eq!(bound_label(0.25), "0.25");
    }

    #[test]
    fn accept_headers_pick_the_format() {
        let prometheus_2_42 = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(
            Format::negotiate(Some(prometheus_2_42)),
            Format::OpenMetrics
        );
        assert_eq!(Format::negotiate(None), Format::Prometheus);
        assert_eq!(Format::negotiate(Some("*/*")), Format::Prometheus);
        assert_eq!(
            Format::negotiate(Some("text/plain;version=0.0.4")),
            Format::Prometheus
        );
        assert_eq!(
            Format::negotiate(Some("text/plain;q=0.9, application/openmetrics-text;q=0.5")),
            Format::Prometheus
        );
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text; version=0.0.1")),
            Format::Prometheus,
            "only 1.0.0 is written"
        );
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text;q=0")),
            Format::Prometheus
        );
    }

    #[test]
    fn adding_fields_gives_what_adding_their_families_gives() {
        // Every kind, names met again in other groups, the same name with
        // another unit, description or kind, names that sanitise alike,
        // labelled fields, an unset timestamp, strings on and off.
        let described = |name: &str, description: &str, value: FieldValue| Field {
            description: description.to_owned(),
            ..field(name, "", value)
        };
        let labelled = |name: &str, conn: &str| Field {
            labels: mmstats::Labels::from_pairs(&[("conn", conn)]).unwrap(),
            ..field(name, "", FieldValue::Counter(5))
        };
        let fields = |program: u64| {
            vec![
                field("web.requests", "", FieldValue::Counter(program)),
                field("web.latency", "milliseconds", FieldValue::Float(1.5)),
                field("web.latency", "microseconds", FieldValue::Float(2.5)),
                field("web.state", "", FieldValue::Counter(1)),
                field("web.state", "", FieldValue::Gauge(2)),
                described("web.queue", "waiting", FieldValue::Gauge(3)),
                described("web.queue", "queued", FieldValue::Gauge(4)),
                field("web.queue.max", "", FieldValue::UInt(4)),
                field("web-requests", "", FieldValue::Int(-1)),
                field("web.ok", "", FieldValue::Bool(true)),
                field("web.started", "", FieldValue::Timestamp(0)),
                field("web.started", "", FieldValue::Timestamp(1_000_000_000)),
                field("web.built_time", "", FieldValue::Timestamp(2)),
                field("web.version", "", FieldValue::Text(format!("v{program}"))),
                field(
                    "web.avg",
                    "nanoseconds",
                    FieldValue::Average { sum: 9.0, count: 3 },
                ),
                field("web.hist", "nanoseconds", histogram_value()),
                field(
                    "web.events",
                    "",
                    FieldValue::EventRing {
                        appended: 7,
                        capacity: 8,
                        payload_words: 1,
                    },
                ),
                labelled("web.conn.bytes", "1"),
                labelled("web.conn.bytes", &program.to_string()),
            ]
        };
        for strings in [true, false] {
            let options = NameOptions {
                strings,
                ..options()
            };
            let mut by_field = Merger::default();
            let mut by_family = Merger::default();
            for program in 0..3 {
                let group: Labels = [label("program", &program.to_string())].as_slice().into();
                for f in fields(program) {
                    by_field.add_field(&f, &group, &options);
                    for family in families_of_shared(&f, &group, &options) {
                        by_family.add(family);
                    }
                }
            }
            let (by_field, dropped_a) = by_field.finish();
            let (by_family, dropped_b) = by_family.finish();
            assert_eq!(dropped_a, dropped_b);
            assert!(by_field.len() > 10, "{by_field:#?}");
            assert_eq!(by_field, by_family, "strings: {strings}");
        }
    }

    #[test]
    fn a_name_with_more_variants_than_remembered_still_merges_right() {
        // One name with 20 descriptions (a file made to fill the cache):
        // past the 8 remembered, fields take the full path and the result
        // is still what adding their families gives.
        let mut by_field = Merger::default();
        let mut by_family = Merger::default();
        for program in 0..3 {
            let group: Labels = [label("program", &program.to_string())].as_slice().into();
            for variant in (0..20).rev() {
                let f = Field {
                    description: format!("variant {variant:02}"),
                    ..field("web.requests", "", FieldValue::Counter(variant))
                };
                by_field.add_field(&f, &group, &options());
                for family in families_of_shared(&f, &group, &options()) {
                    by_family.add(family);
                }
            }
        }
        let (by_field, _) = by_field.finish();
        let (by_family, _) = by_family.finish();
        assert_eq!(by_field, by_family);
        assert_eq!(by_field.len(), 1);
        assert!(
            by_field[0].help.starts_with("variant 00"),
            "{}",
            by_field[0].help
        );
        assert_eq!(by_field[0].metrics.len(), 3, "one series per program");
    }
}
