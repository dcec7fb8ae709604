//! Drawing a [`Dashboard`] with ratatui: a header line, then one bordered
//! table per concern. The same drawing makes the live screen and the
//! plain-text frame of `--once`.

use std::time::Duration;

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, Widget};

use super::stats::{CounterRow, Dashboard, OUTCOMES, Rated, Unit};

/// One frame: the latest dashboard (possibly stale) and the latest error.
pub struct Screen<'a> {
    pub url: &'a str,
    pub interval: Duration,
    pub dashboard: Option<&'a Dashboard>,
    /// Why the last scrape failed, if it did.
    pub error: Option<&'a str>,
    /// Shows the key to quit.
    pub interactive: bool,
}

/// A bordered table: a title, column headings with widths, rows of text.
/// The first `names` columns are names, the rest numbers (right-aligned).
struct Section {
    title: String,
    names: usize,
    columns: Vec<(&'static str, u16)>,
    rows: Vec<Vec<String>>,
}

impl Section {
    fn height(&self) -> u16 {
        // Borders, the column headings, at least one row ("none").
        3 + self.rows.len().max(1) as u16
    }

    fn render(&self, area: Rect, buf: &mut Buffer) {
        let block = Block::bordered().title(Span::from(format!(" {} ", self.title)).bold());
        let cell = |i: usize, text: String| {
            let line = Line::from(text);
            Cell::from(if i < self.names { line } else { line.alignment(Alignment::Right) })
        };
        let header = Row::new(self.columns.iter().enumerate().map(|(i, (h, _))| cell(i, (*h).to_owned())))
            .style(Style::new().add_modifier(Modifier::BOLD));
        let rows: Vec<Row<'_>> = if self.rows.is_empty() {
            vec![Row::new([Cell::from("none".dim())])]
        } else {
            self.rows.iter().map(|r| Row::new(r.iter().enumerate().map(|(i, t)| cell(i, t.clone())))).collect()
        };
        let widths = self.columns.iter().map(|(_, w)| Constraint::Length(*w));
        Widget::render(Table::new(rows, widths).header(header).block(block).column_spacing(1), area, buf);
    }
}

impl Screen<'_> {
    /// Rows the whole frame needs.
    pub fn height(&self) -> u16 {
        let body: u16 = self.layout().iter().map(|pair| pair.iter().map(Section::height).max().unwrap_or(0)).sum();
        self.header_lines().len() as u16 + body.max(1)
    }

    /// The frame as plain text, `width` columns wide, trailing blanks cut.
    pub fn to_text(&self, width: u16) -> String {
        let area = Rect::new(0, 0, width, self.height());
        let mut buf = Buffer::empty(area);
        self.render(area, &mut buf);
        let mut text = String::new();
        for y in 0..area.height {
            let line: String = (0..area.width).map(|x| buf[(x, y)].symbol()).collect();
            text.push_str(line.trim_end());
            text.push('\n');
        }
        text
    }

    fn header_lines(&self) -> Vec<Line<'static>> {
        let mut first = vec![Span::from("sluice top").bold(), Span::from(format!(" · {}", self.url))];
        let dot = || Span::from(" · ");
        if let Some(d) = self.dashboard {
            let flag = |name: &'static str, value: Option<bool>| match value {
                Some(true) => Span::from(name).green(),
                Some(false) => Span::from(format!("not {name}")).yellow(),
                None => Span::from(format!("{name} ?")).dim(),
            };
            first.extend([dot(), flag("up", d.up), dot(), flag("ready", d.ready)]);
            first.push(Span::from(format!(" · scraped {}", d.scraped.format("%H:%M:%S"))));
        }
        first.push(Span::from(format!(" every {}", seconds(self.interval.as_secs_f64()))));
        if self.interactive {
            first.push(Span::from(" · q quits").dim());
        }
        let mut lines = vec![Line::from(first)];
        if let Some(error) = self.error {
            lines.push(Line::from(format!("cannot scrape: {error}; retrying")).fg(Color::Red));
        }
        if self.dashboard.is_none() {
            lines.push(Line::from("no scrape yet").dim());
        }
        lines
    }

    /// The sections, in rows of one or two side by side.
    fn layout(&self) -> Vec<Vec<Section>> {
        let Some(d) = self.dashboard else { return Vec::new() };
        let stages = Section {
            title: "Records/s per stage".into(),
            names: 1,
            columns: vec![
                ("stage", 12),
                ("in/s", 9),
                ("kept/s", 9),
                ("replaced/s", 10),
                ("rejected/s", 10),
                ("isolated/s", 10),
                ("dropped/s", 9),
                ("in total", 12),
            ],
            rows: d
                .stages
                .iter()
                .map(|s| {
                    let mut row = vec![s.stage.clone()];
                    row.extend(s.outcomes.iter().map(|o| rate(o.per_second)));
                    row.push(total(s.outcomes[0].total));
                    row
                })
                .collect(),
        };
        debug_assert_eq!(OUTCOMES[0], "in");
        let window = match d.window {
            Some(w) => format!("Batches, last {}", seconds(w.as_secs_f64())),
            None => "Batches, since start".into(),
        };
        let batches = Section {
            title: window,
            names: 1,
            columns: vec![("", 17), ("/s", 7), ("p50", 8), ("p99", 8), ("mean", 8)],
            rows: d
                .histograms
                .iter()
                .map(|h| {
                    let value = |v: Option<f64>| match (v, h.unit) {
                        (None, _) => "–".to_owned(),
                        (Some(v), Unit::Seconds) => seconds(v),
                        (Some(v), Unit::Count) => number(v),
                    };
                    vec![h.name.clone(), rate(h.per_second), value(h.p50), value(h.p99), value(h.mean)]
                })
                .collect(),
        };
        let mut lag_rows: Vec<Vec<String>> =
            d.lag.iter().map(|l| vec![l.partition.clone(), total(l.lag), rate(l.change_per_second)]).collect();
        if d.lag.len() > 1 {
            lag_rows.push(vec!["total".into(), total(d.lag_total()), String::new()]);
        }
        let lag = Section {
            names: 1,
            title: match d.partitions_assigned {
                Some(n) => format!("Lag, {n:.0} partitions assigned"),
                None => "Lag".into(),
            },
            columns: vec![("partition", 9), ("records", 10), ("change/s", 9)],
            rows: lag_rows,
        };
        let dead_letters = Section {
            title: "Dead letters".into(),
            names: 2,
            columns: vec![("stage", 10), ("reason", 19), ("total", 9), ("/s", 7)],
            rows: counter_rows(&d.dead_letters),
        };
        let retries = Section {
            title: "Retries".into(),
            names: 1,
            columns: vec![("cause", 16), ("total", 9), ("/s", 7)],
            rows: counter_rows(&d.retries),
        };
        let modules = Section {
            title: "Modules".into(),
            names: 2,
            columns: vec![("stage", 10), ("sha256", 12), ("reloads", 8), ("refused", 8)],
            rows: d
                .modules
                .iter()
                .map(|m| {
                    let sha = m.sha256.clone().unwrap_or_else(|| "?".into());
                    vec![m.stage.clone(), sha, total(m.accepted), total(m.refused)]
                })
                .collect(),
        };
        let sink = Section {
            title: "Rows written".into(),
            names: 1,
            columns: vec![("table", 16), ("total", 9), ("/s", 7)],
            rows: counter_rows(&d.sink_rows),
        };
        vec![vec![stages], vec![batches, lag], vec![dead_letters, retries], vec![modules, sink]]
    }
}

impl Widget for &Screen<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let header = self.header_lines();
        let sections = self.layout();
        let heights = std::iter::once(header.len() as u16)
            .chain(sections.iter().map(|pair| pair.iter().map(Section::height).max().unwrap_or(0)));
        let rows = Layout::vertical(heights.map(Constraint::Length).chain([Constraint::Fill(1)])).split(area);
        Paragraph::new(header).render(rows[0], buf);
        for (pair, row) in sections.iter().zip(rows.iter().skip(1)) {
            let columns = match pair.len() {
                1 => vec![*row],
                _ => Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).split(*row).to_vec(),
            };
            for (section, area) in pair.iter().zip(columns) {
                section.render(area, buf);
            }
        }
    }
}

fn counter_rows(rows: &[CounterRow]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|r| {
            let Rated { total: t, per_second } = r.value;
            let mut row = r.key.clone();
            row.extend([total(t), rate(per_second)]);
            row
        })
        .collect()
}

/// A count, whole.
fn total(x: f64) -> String {
    format!("{x:.0}")
}

/// A per-second rate, or a dash until there are two scrapes.
fn rate(x: Option<f64>) -> String {
    x.map_or_else(|| "–".to_owned(), number)
}

/// A number in at most about six characters.
fn number(x: f64) -> String {
    let a = x.abs();
    if a >= 1e6 {
        format!("{:.1}M", x / 1e6)
    } else if a >= 1e4 {
        format!("{:.1}k", x / 1e3)
    } else if a >= 100.0 || x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

/// A duration in seconds, in the unit that reads best.
fn seconds(s: f64) -> String {
    if s < 1e-3 {
        format!("{:.0}µs", s * 1e6)
    } else if s < 0.01 {
        format!("{:.1}ms", s * 1e3)
    } else if s < 1.0 {
        format!("{:.0}ms", s * 1e3)
    } else if s.fract() == 0.0 {
        format!("{s:.0}s")
    } else {
        format!("{s:.1}s")
    }
}
