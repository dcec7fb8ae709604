//! Reading `/metrics`: the endpoint from `--url`, one GET over plain HTTP
//! (hyper), and the Prometheus text parsed (prometheus-parse) into series
//! that the rest of `top` looks up by name and labels.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::{Request, StatusCode, Uri, header};
use hyper_util::rt::TokioIo;

/// A scrape larger than this is refused rather than read whole.
const MAX_BODY_BYTES: usize = 16 << 20;

/// Where `/metrics` is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `host:port`, as dialled.
    address: String,
    /// The path and query asked for.
    path: String,
}

impl Endpoint {
    /// Reads `--url`: `http://host:port[/path]`; the scheme may be left
    /// out, the port defaults to 80 and an empty path to `/metrics`.
    pub fn parse(url: &str) -> anyhow::Result<Endpoint> {
        let with_scheme = if url.contains("://") { url.to_owned() } else { format!("http://{url}") };
        let uri: Uri = with_scheme.parse().with_context(|| format!("--url {url:?} is not a URL"))?;
        anyhow::ensure!(
            uri.scheme_str() == Some("http"),
            "--url {url:?}: only http:// is supported (Sluice serves /metrics over plain HTTP)"
        );
        let host = uri.host().with_context(|| format!("--url {url:?} has no host"))?;
        let port = uri.port_u16().unwrap_or(80);
        let path = match uri.path_and_query().map(|p| p.as_str()) {
            None | Some("" | "/") => "/metrics".to_owned(),
            Some(path) => path.to_owned(),
        };
        Ok(Endpoint { address: format!("{host}:{port}"), path })
    }

    /// What the header shows: `http://host:port/path`.
    pub fn url(&self) -> String {
        format!("http://{}{}", self.address, self.path)
    }

    /// Fetches the exposition text once, within `timeout`.
    pub async fn get(&self, timeout: Duration) -> anyhow::Result<String> {
        tokio::time::timeout(timeout, self.get_unbounded())
            .await
            .map_err(|_| anyhow::anyhow!("no answer within {} ms", timeout.as_millis()))?
    }

    async fn get_unbounded(&self) -> anyhow::Result<String> {
        let stream = tokio::net::TcpStream::connect(&self.address)
            .await
            .with_context(|| format!("connecting to {}", self.address))?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.context("starting HTTP/1.1")?;
        // Drives the connection; it ends when `sender` is dropped.
        tokio::spawn(connection);
        let request = Request::get(self.path.as_str())
            .header(header::HOST, &self.address)
            .header(header::ACCEPT, "text/plain")
            .body(Empty::<Bytes>::new())
            .context("building the request")?;
        let response = sender.send_request(request).await.context("sending the request")?;
        let status = response.status();
        anyhow::ensure!(status == StatusCode::OK, "{} answered {status}", self.url());
        let body = Limited::new(response.into_body(), MAX_BODY_BYTES)
            .collect()
            .await
            .map_err(|e| anyhow::anyhow!("reading the body: {e}"))?
            .to_bytes();
        String::from_utf8(body.to_vec()).context("the body is not UTF-8")
    }
}

/// Label name → value.
pub type Labels = BTreeMap<String, String>;

/// One histogram bucket: observations `<= le`, cumulative.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    pub le: f64,
    pub count: f64,
}

/// A histogram's buckets (ascending `le`, the last `+Inf`), sum and count.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    pub buckets: Vec<Bucket>,
    pub sum: f64,
    pub count: f64,
}

#[derive(Debug, Clone, PartialEq)]
enum Value {
    /// A counter, gauge or untyped sample (`_sum` and `_count` included).
    Number(f64),
    Buckets(Vec<Bucket>),
}

#[derive(Debug, Clone, PartialEq)]
struct Series {
    name: String,
    labels: Labels,
    value: Value,
}

/// One scrape's series, in the order the endpoint wrote them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metrics {
    series: Vec<Series>,
}

impl Metrics {
    /// Parses Prometheus text. Lines the parser does not understand are
    /// skipped, so an unexpected line costs that line, not the frame.
    pub fn parse(text: &str) -> Metrics {
        let lines = text.lines().map(|line| Ok(line.to_owned()));
        // Reading from memory: the only error the parser passes on is the
        // iterator's, and this one has none.
        let scrape = prometheus_parse::Scrape::parse(lines)
            .unwrap_or_else(|_| prometheus_parse::Scrape { docs: Default::default(), samples: Vec::new() });
        let series = scrape
            .samples
            .into_iter()
            .filter_map(|sample| {
                use prometheus_parse::Value as V;
                let value = match sample.value {
                    V::Counter(v) | V::Gauge(v) | V::Untyped(v) => Value::Number(v),
                    V::Histogram(buckets) => {
                        let mut buckets: Vec<Bucket> =
                            buckets.into_iter().map(|b| Bucket { le: b.less_than, count: b.count }).collect();
                        buckets.sort_by(|a, b| a.le.total_cmp(&b.le));
                        Value::Buckets(buckets)
                    }
                    // Sluice exports no summaries.
                    V::Summary(_) => return None,
                };
                let labels = sample.labels.iter().map(|(k, v)| (k.trim().to_owned(), v.clone())).collect();
                Some(Series { name: sample.metric, labels, value })
            })
            .collect();
        Metrics { series }
    }

    /// Every numeric series called `name`, with its labels.
    pub fn numbers<'a>(&'a self, name: &'a str) -> impl Iterator<Item = (&'a Labels, f64)> + 'a {
        self.series.iter().filter(move |s| s.name == name).filter_map(|s| match s.value {
            Value::Number(v) => Some((&s.labels, v)),
            Value::Buckets(_) => None,
        })
    }

    /// The value of `name` whose labels include `labels`.
    pub fn number(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.numbers(name).find(|(l, _)| has(l, labels)).map(|(_, v)| v)
    }

    /// The histogram `name` whose labels include `labels`.
    pub fn histogram(&self, name: &str, labels: &[(&str, &str)]) -> Option<Histogram> {
        let buckets = self.series.iter().find_map(|s| match &s.value {
            Value::Buckets(b) if s.name == name && has(&s.labels, labels) => Some(b.clone()),
            _ => None,
        })?;
        let sum = self.number(&format!("{name}_sum"), labels).unwrap_or(0.0);
        let count = self.number(&format!("{name}_count"), labels).or_else(|| buckets.last().map(|b| b.count));
        Some(Histogram { buckets, sum, count: count.unwrap_or(0.0) })
    }

    /// The values of label `label` on the histograms called `name`, sorted
    /// (the parser hands histograms over in no particular order).
    pub fn histogram_labels(&self, name: &str, label: &str) -> Vec<String> {
        let values: std::collections::BTreeSet<&String> = self
            .series
            .iter()
            .filter(|s| s.name == name && matches!(s.value, Value::Buckets(_)))
            .filter_map(|s| s.labels.get(label))
            .collect();
        values.into_iter().cloned().collect()
    }
}

fn has(labels: &Labels, wanted: &[(&str, &str)]) -> bool {
    wanted.iter().all(|(k, v)| labels.get(*k).is_some_and(|have| have == v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_defaults_scheme_port_and_path() {
        let e = Endpoint::parse("127.0.0.1:9898").unwrap();
        assert_eq!(e.url(), "http://127.0.0.1:9898/metrics");
        assert_eq!(Endpoint::parse("http://host/").unwrap().url(), "http://host:80/metrics");
        assert_eq!(Endpoint::parse("http://h:1/custom?x=1").unwrap().url(), "http://h:1/custom?x=1");
        let https = Endpoint::parse("https://h:1").unwrap_err().to_string();
        assert!(https.contains("only http://"), "{https}");
    }

    const TEXT: &str = r#"
# HELP sluice_stage_records_total Records through a stage.
# TYPE sluice_stage_records_total counter
sluice_stage_records_total{stage="validate",outcome="in"} 120
sluice_stage_records_total{stage="validate",outcome="kept"} 110
# TYPE sluice_batch_seconds histogram
sluice_batch_seconds_bucket{le="0.1"} 1
sluice_batch_seconds_bucket{le="+Inf"} 3
sluice_batch_seconds_bucket{le="0.01"} 0
sluice_batch_seconds_sum 0.9
sluice_batch_seconds_count 3
# TYPE sluice_stage_seconds histogram
sluice_stage_seconds_bucket{stage="validate",le="1"} 2
sluice_stage_seconds_bucket{stage="validate",le="+Inf"} 2
sluice_stage_seconds_sum{stage="validate"} 0.5
sluice_stage_seconds_count{stage="validate"} 2
this line is not prometheus
sluice_up 1
"#;

    #[test]
    fn parses_numbers_and_histograms() {
        let m = Metrics::parse(TEXT);
        assert_eq!(m.number("sluice_stage_records_total", &[("outcome", "kept")]), Some(110.0));
        assert_eq!(m.number("sluice_stage_records_total", &[("outcome", "rejected")]), None);
        assert_eq!(m.number("sluice_up", &[]), Some(1.0));
        let h = m.histogram("sluice_batch_seconds", &[]).unwrap();
        let les: Vec<f64> = h.buckets.iter().map(|b| b.le).collect();
        assert_eq!(les, [0.01, 0.1, f64::INFINITY], "sorted by le");
        assert_eq!((h.sum, h.count), (0.9, 3.0));
        let stage = m.histogram("sluice_stage_seconds", &[("stage", "validate")]).unwrap();
        assert_eq!((stage.sum, stage.count), (0.5, 2.0));
        assert_eq!(m.histogram_labels("sluice_stage_seconds", "stage"), ["validate"]);
    }

    /// Serves `body` once per connection on a loopback port.
    async fn serve(status: &'static str, body: &'static str) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut request = [0u8; 1024];
                let _ = socket.read(&mut request).await;
                let response = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            }
        });
        address
    }

    #[tokio::test]
    async fn gets_over_http_and_reports_failures() {
        let ok = Endpoint::parse(&serve("200 OK", "sluice_up 1\n").await).unwrap();
        assert_eq!(ok.get(Duration::from_secs(5)).await.unwrap(), "sluice_up 1\n");

        let missing = Endpoint::parse(&serve("404 Not Found", "").await).unwrap();
        let e = missing.get(Duration::from_secs(5)).await.unwrap_err().to_string();
        assert!(e.contains("404"), "{e}");

        // A port nobody listens on: bound, then released.
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
        let refused = Endpoint::parse(&closed.to_string()).unwrap();
        let e = format!("{:#}", refused.get(Duration::from_secs(5)).await.unwrap_err());
        assert!(e.contains("connecting to"), "{e}");
    }
}
