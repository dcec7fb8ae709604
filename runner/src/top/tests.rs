//! `top` against fixtures of Prometheus text: the numbers computed from two
//! scrapes, and the frame drawn from them.

use std::time::{Duration, Instant};

use chrono::TimeZone;
use ratatui::Terminal as RatatuiTerminal;
use ratatui::backend::TestBackend;

use super::scrape::{Bucket, Endpoint, Metrics};
use super::stats::{Dashboard, History, Sample, difference, quantile};
use super::view::Screen;

const SHA: &str = "ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12";

/// What Sluice would serve after `n` steps of a steady load: each step
/// 800 records in and 4 batches.
fn exposition(n: f64) -> String {
    let seconds_le = ["0.005", "0.01", "0.05", "0.1", "+Inf"];
    let seconds_buckets = |base: [f64; 5], step: [f64; 5]| -> String {
        (0..5)
            .map(|i| format!("sluice_batch_seconds_bucket{{le=\"{}\"}} {}\n", seconds_le[i], base[i] + n * step[i]))
            .collect()
    };
    format!(
        r#"# HELP sluice_up 1 while the process runs.
# TYPE sluice_up gauge
sluice_up 1
# TYPE sluice_ready gauge
sluice_ready 1
# TYPE sluice_stage_records_total counter
sluice_stage_records_total{{stage="validate",outcome="in"}} {in_}
sluice_stage_records_total{{stage="validate",outcome="kept"}} {kept}
sluice_stage_records_total{{stage="validate",outcome="replaced"}} 0
sluice_stage_records_total{{stage="validate",outcome="rejected"}} {rejected}
sluice_stage_records_total{{stage="validate",outcome="isolated"}} {isolated}
sluice_stage_records_total{{stage="stats",outcome="in"}} {kept}
sluice_stage_records_total{{stage="stats",outcome="kept"}} {kept}
# TYPE sluice_dead_letters_total counter
sluice_dead_letters_total{{stage="validate",reason_class="rejected"}} {rejected}
sluice_dead_letters_total{{stage="validate",reason_class="trapped"}} {isolated}
# TYPE sluice_batch_records histogram
sluice_batch_records_bucket{{le="100"}} {small}
sluice_batch_records_bucket{{le="500"}} {batches}
sluice_batch_records_bucket{{le="+Inf"}} {batches}
sluice_batch_records_sum {in_}
sluice_batch_records_count {batches}
# TYPE sluice_batch_seconds histogram
{seconds}sluice_batch_seconds_sum {seconds_sum}
sluice_batch_seconds_count {batches}
# TYPE sluice_stage_seconds histogram
sluice_stage_seconds_bucket{{stage="validate",le="0.001"}} {batches}
sluice_stage_seconds_bucket{{stage="validate",le="+Inf"}} {batches}
sluice_stage_seconds_sum{{stage="validate"}} {stage_sum}
sluice_stage_seconds_count{{stage="validate"}} {batches}
# TYPE sluice_sink_rows_total counter
sluice_sink_rows_total{{table="study_log"}} {kept}
# TYPE sluice_retries_total counter
sluice_retries_total{{cause="database"}} {retries}
sluice_retries_total{{cause="fenced"}} 0
# TYPE sluice_consumer_lag gauge
sluice_consumer_lag{{partition="10"}} {lag10}
sluice_consumer_lag{{partition="2"}} 0
sluice_consumer_lag{{partition="0"}} {lag0}
# TYPE sluice_partitions_assigned gauge
sluice_partitions_assigned 3
# TYPE sluice_module_info gauge
sluice_module_info{{stage="validate",sha256="{SHA}"}} 1
# TYPE sluice_module_reloads_total counter
sluice_module_reloads_total{{stage="validate",result="accepted"}} 1
sluice_module_reloads_total{{stage="validate",result="refused"}} {refused}
"#,
        in_ = 1000.0 + 800.0 * n,
        kept = 950.0 + 760.0 * n,
        rejected = 40.0 + 30.0 * n,
        isolated = 10.0 + 10.0 * n,
        small = 2.0 + n,
        batches = 10.0 + 4.0 * n,
        seconds = seconds_buckets([0.0, 2.0, 8.0, 10.0, 10.0], [0.0, 0.0, 2.0, 4.0, 4.0]),
        seconds_sum = 0.3 + 0.2 * n,
        stage_sum = 0.005 + 0.002 * n,
        retries = 1.0 + 2.0 * n,
        lag10 = 300.0 - 100.0 * n,
        lag0 = 500.0 + 20.0 * n,
        refused = n,
    )
}

fn sample(at: Instant, n: f64) -> Sample {
    let wall = chrono::Local.with_ymd_and_hms(2026, 12, 1, 12, 3, 4).single().unwrap();
    Sample { at, wall, metrics: Metrics::parse(&exposition(n)) }
}

/// Two scrapes two seconds apart: one step of load between them.
fn dashboard() -> Dashboard {
    let start = Instant::now();
    let mut history = History::new(Duration::from_secs(10));
    history.push(sample(start, 0.0));
    history.push(sample(start + Duration::from_secs(2), 1.0));
    history.dashboard().unwrap()
}

#[test]
fn rates_come_from_counter_deltas() {
    let d = dashboard();
    let stages: Vec<&str> = d.stages.iter().map(|s| s.stage.as_str()).collect();
    assert_eq!(stages, ["validate", "stats"], "in the order the endpoint wrote them");
    let validate = &d.stages[0];
    let per_second: Vec<Option<f64>> = validate.outcomes.iter().map(|o| o.per_second).collect();
    assert_eq!(per_second, [Some(400.0), Some(380.0), Some(0.0), Some(15.0), Some(5.0), Some(0.0)]);
    assert_eq!(validate.outcomes[0].total, 1800.0);

    let dead: Vec<(Vec<String>, f64, Option<f64>)> =
        d.dead_letters.iter().map(|r| (r.key.clone(), r.value.total, r.value.per_second)).collect();
    assert_eq!(
        dead,
        [
            (vec!["validate".into(), "rejected".into()], 70.0, Some(15.0)),
            (vec!["validate".into(), "trapped".into()], 20.0, Some(5.0)),
        ]
    );
    assert_eq!(d.retries[0].value.per_second, Some(1.0));
    assert_eq!(d.sink_rows[0].key, ["study_log"]);
    assert_eq!(d.sink_rows[0].value.per_second, Some(380.0));
    assert_eq!((d.up, d.ready, d.partitions_assigned), (Some(true), Some(true), Some(3.0)));
}

#[test]
fn the_first_scrape_has_totals_but_no_rates() {
    let mut history = History::new(Duration::from_secs(10));
    history.push(sample(Instant::now(), 0.0));
    let d = history.dashboard().unwrap();
    assert_eq!(d.stages[0].outcomes[0].total, 1000.0);
    assert_eq!(d.stages[0].outcomes[0].per_second, None);
    assert_eq!(d.window, None, "histograms since start");
    let latency = &d.histograms[0];
    assert_eq!(latency.per_second, None);
    assert!((latency.mean.unwrap() - 0.03).abs() < 1e-9, "{latency:?}");
}

#[test]
fn a_restarted_counter_counts_from_zero() {
    let start = Instant::now();
    let mut history = History::new(Duration::from_secs(10));
    history.push(sample(start, 5.0));
    history.push(sample(start + Duration::from_secs(2), 0.0));
    let d = history.dashboard().unwrap();
    // 1000 since the restart, not 1000 - 5000.
    assert_eq!(d.stages[0].outcomes[0].per_second, Some(500.0));
    // The histogram after the restart is taken whole: 10 batches.
    assert_eq!(d.histograms[0].per_second, Some(5.0));
}

#[test]
fn latency_quantiles_and_mean_are_over_the_window() {
    let d = dashboard();
    let names: Vec<&str> = d.histograms.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(names, ["batch latency", "records per batch", "stage validate"]);
    let latency = &d.histograms[0];
    // Four batches in two seconds: two in (10 ms, 50 ms], two in (50 ms, 100 ms].
    assert_eq!(latency.per_second, Some(2.0));
    assert!((latency.p50.unwrap() - 0.05).abs() < 1e-9, "{latency:?}");
    assert!((latency.p99.unwrap() - 0.099).abs() < 1e-9, "{latency:?}");
    assert!((latency.mean.unwrap() - 0.05).abs() < 1e-9, "{latency:?}");
    let records = &d.histograms[1];
    assert!((records.mean.unwrap() - 200.0).abs() < 1e-9, "800 records in 4 batches: {records:?}");
    assert_eq!(d.window, Some(Duration::from_secs(2)));
}

#[test]
fn quantiles_interpolate_inside_buckets() {
    let b = |le: f64, count: f64| Bucket { le, count };
    let buckets = [b(1.0, 1.0), b(2.0, 3.0), b(4.0, 4.0), b(f64::INFINITY, 4.0)];
    assert_eq!(quantile(0.5, &buckets), Some(1.5));
    assert_eq!(quantile(1.0, &buckets), Some(4.0));
    assert_eq!(quantile(0.25, &buckets), Some(1.0));
    // In the +Inf bucket: the highest finite bound.
    assert_eq!(quantile(0.99, &[b(1.0, 1.0), b(f64::INFINITY, 4.0)]), Some(1.0));
    assert_eq!(quantile(0.5, &[b(f64::INFINITY, 4.0)]), None, "no finite bound");
    assert_eq!(quantile(0.5, &[b(1.0, 0.0), b(f64::INFINITY, 0.0)]), None, "no observations");
    assert_eq!(quantile(0.5, &[]), None);
}

#[test]
fn histogram_difference_falls_back_to_the_current_after_a_restart() {
    let m = |n| Metrics::parse(&exposition(n)).histogram("sluice_batch_seconds", &[]).unwrap();
    let window = difference(&m(1.0), &m(2.0));
    assert_eq!(window.count, 4.0);
    assert_eq!(window.buckets.last().unwrap().count, 4.0);
    assert_eq!(difference(&m(2.0), &m(0.0)), m(0.0));
}

#[test]
fn lag_table_is_sorted_by_partition_number_with_its_change() {
    let d = dashboard();
    let rows: Vec<(&str, f64, Option<f64>)> =
        d.lag.iter().map(|l| (l.partition.as_str(), l.lag, l.change_per_second)).collect();
    assert_eq!(rows, [("0", 520.0, Some(10.0)), ("2", 0.0, Some(0.0)), ("10", 200.0, Some(-50.0))]);
    assert_eq!(d.lag_total(), 720.0);
}

#[test]
fn modules_show_a_short_sha_and_reloads() {
    let d = dashboard();
    assert_eq!(d.modules.len(), 1);
    let m = &d.modules[0];
    assert_eq!((m.stage.as_str(), m.sha256.as_deref()), ("validate", Some("ab12cd34ef56")));
    assert_eq!((m.accepted, m.refused), (1.0, 1.0));
}

#[test]
fn history_keeps_the_window_for_histograms() {
    let start = Instant::now();
    let mut history = History::new(Duration::from_secs(10));
    for t in 0..=12 {
        history.push(sample(start + Duration::from_secs(t), t as f64));
    }
    let d = history.dashboard().unwrap();
    assert_eq!(d.window, Some(Duration::from_secs(10)));
    // Rates stay over the last interval: one step a second.
    assert_eq!(d.stages[0].outcomes[0].per_second, Some(800.0));
    assert_eq!(d.histograms[0].per_second, Some(4.0));
}

/// The frame drawn into ratatui's test backend, as lines.
fn draw(screen: &Screen<'_>, width: u16) -> Vec<String> {
    let mut terminal = RatatuiTerminal::new(TestBackend::new(width, screen.height())).unwrap();
    terminal.draw(|frame| frame.render_widget(screen, frame.area())).unwrap();
    let buffer = terminal.backend().buffer();
    (0..buffer.area.height)
        .map(|y| (0..buffer.area.width).map(|x| buffer[(x, y)].symbol()).collect::<String>().trim_end().to_owned())
        .collect()
}

fn line_with<'a>(lines: &'a [String], words: &[&str]) -> &'a str {
    lines
        .iter()
        .find(|l| words.iter().all(|w| l.contains(w)))
        .unwrap_or_else(|| panic!("no line with {words:?} in\n{}", lines.join("\n")))
}

#[test]
fn the_frame_shows_every_section() {
    let d = dashboard();
    let url = "http://127.0.0.1:9898/metrics";
    let screen = Screen { url, interval: Duration::from_secs(1), dashboard: Some(&d), error: None, interactive: true };
    let lines = draw(&screen, 100);
    line_with(&lines, &["sluice top", url, "up", "ready", "scraped 12:03:04", "q quits"]);
    line_with(&lines, &["Records/s per stage"]);
    line_with(&lines, &["in/s", "kept/s", "rejected/s", "isolated/s"]);
    line_with(&lines, &["validate", "400", "380", "15", "5", "1800"]);
    line_with(&lines, &["Batches, last 2s", "Lag, 3 partitions assigned"]);
    line_with(&lines, &["batch latency", "2", "50ms", "99ms"]);
    line_with(&lines, &["records per batch", "200"]);
    line_with(&lines, &["stage validate", "2", "500µs"]);
    line_with(&lines, &["Dead letters", "Retries"]);
    line_with(&lines, &["validate", "rejected", "70", "15", "database", "3", "1"]);
    line_with(&lines, &["Modules", "Rows written"]);
    line_with(&lines, &["validate", "ab12cd34ef56", "study_log", "1710", "380"]);
    line_with(&lines, &["total", "720"]);
    let partitions: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.split('│').nth(3).and_then(|cell| cell.split_whitespace().next()))
        .filter(|p| p.parse::<u32>().is_ok())
        .collect();
    assert_eq!(partitions, ["0", "2", "10"], "{}", lines.join("\n"));
    assert_eq!(screen.to_text(100).lines().collect::<Vec<_>>(), lines, "--once prints the same frame");
}

#[test]
fn the_frame_says_when_the_endpoint_cannot_be_reached() {
    let url = "http://127.0.0.1:9898/metrics";
    let error = "connecting to 127.0.0.1:9898: Connection refused (os error 111)";
    let screen =
        Screen { url, interval: Duration::from_secs(1), dashboard: None, error: Some(error), interactive: true };
    let lines = draw(&screen, 100);
    line_with(&lines, &["cannot scrape: connecting to 127.0.0.1:9898: Connection refused", "retrying"]);
    line_with(&lines, &["no scrape yet"]);

    // After a failure the last good scrape stays on screen under the error.
    let d = dashboard();
    let stale = Screen { dashboard: Some(&d), ..screen };
    let lines = draw(&stale, 100);
    line_with(&lines, &["cannot scrape"]);
    line_with(&lines, &["validate", "400"]);
}

#[tokio::test]
async fn once_prints_a_frame_from_two_scrapes() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        for n in 0.. {
            let Ok((mut socket, _)) = listener.accept().await else { return };
            let mut request = [0u8; 1024];
            let _ = socket.read(&mut request).await;
            let body = exposition(f64::from(n));
            let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", body.len());
            let _ = socket.write_all(format!("{head}{body}").as_bytes()).await;
        }
    });
    let endpoint = Endpoint::parse(&address).unwrap();
    let text = super::frame_once(&endpoint, Duration::from_millis(50), 100).await.unwrap();
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    line_with(&lines, &["sluice top", &address, "up", "ready"]);
    line_with(&lines, &["validate", "1800"]);
    assert!(!text.contains("q quits"), "{text}");

    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let unreachable = Endpoint::parse(&closed.to_string()).unwrap();
    let e = format!("{:#}", super::frame_once(&unreachable, Duration::from_millis(10), 100).await.unwrap_err());
    assert!(e.contains("scraping http://") && e.contains("connecting to"), "{e}");
}

/// Prints the frame the fixture makes: `cargo test -p sluice --lib
/// top::tests::print_frame -- --ignored --nocapture`.
#[test]
#[ignore = "prints an example frame"]
fn print_frame() {
    let d = dashboard();
    let screen = Screen {
        url: "http://127.0.0.1:9898/metrics",
        interval: Duration::from_secs(1),
        dashboard: Some(&d),
        error: None,
        interactive: false,
    };
    print!("{}", screen.to_text(100));
}
