//! `sluice top`: a live terminal view of a running Sluice, from any host
//! that reaches its `/metrics`: records/s per stage, lag per partition,
//! dead letters, batch latency, module versions, retries.
//!
//! - [`scrape`]: the endpoint, one GET, the Prometheus text parsed.
//! - [`stats`]: rates, quantiles and tables computed from the last scrapes.
//! - [`view`]: drawing them with ratatui, live or as plain text (`--once`).
//!
//! A scraper task sends each scrape (or why it failed) to the drawing loop,
//! which also reads the keys, so a slow endpoint never freezes the screen.

pub mod scrape;
pub mod stats;
pub mod view;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::Context;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};

use scrape::{Endpoint, Metrics};
use stats::{History, Sample};
use view::Screen;

/// What the histograms (latency, records per batch) are taken over, at
/// least: long enough to hold a few batches of a slow pipeline.
const WINDOW: Duration = Duration::from_secs(10);

/// The width of the `--once` frame.
const TEXT_WIDTH: u16 = 100;

/// Runs `sluice top`: live until q, Esc or Ctrl-C, or one frame to stdout.
pub fn main(url: &str, interval: Duration, once: bool) -> anyhow::Result<()> {
    let endpoint = Endpoint::parse(url)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    if once {
        let frame = runtime.block_on(frame_once(&endpoint, interval, TEXT_WIDTH))?;
        print!("{frame}");
        return Ok(());
    }
    live(&runtime, endpoint, interval)
}

/// One frame as text from two scrapes `interval` apart, so that rates exist.
pub async fn frame_once(endpoint: &Endpoint, interval: Duration, width: u16) -> anyhow::Result<String> {
    let mut history = History::new(WINDOW);
    for i in 0..2 {
        if i > 0 {
            tokio::time::sleep(interval).await;
        }
        let text = endpoint.get(timeout(interval)).await.with_context(|| format!("scraping {}", endpoint.url()))?;
        history.push(sample(&text));
    }
    let dashboard = history.dashboard();
    let url = endpoint.url();
    let screen = Screen { url: &url, interval, dashboard: dashboard.as_ref(), error: None, interactive: false };
    Ok(screen.to_text(width))
}

/// What the scraper task tells the drawing loop.
enum Update {
    Scraped(Sample),
    Failed(String),
    /// SIGTERM or SIGHUP: leave like on q.
    Quit,
}

fn live(runtime: &tokio::runtime::Runtime, endpoint: Endpoint, interval: Duration) -> anyhow::Result<()> {
    let (updates, received) = mpsc::channel();
    let url = endpoint.url();
    let scraper = runtime.spawn(scrape_every(endpoint, interval, updates.clone()));
    let signals = runtime.spawn(quit_on_signal(updates));
    let result = draw_until_quit(&url, interval, &received);
    scraper.abort();
    signals.abort();
    result
}

fn draw_until_quit(url: &str, interval: Duration, updates: &mpsc::Receiver<Update>) -> anyhow::Result<()> {
    let mut terminal = Terminal::enter()?;
    let mut history = History::new(WINDOW.max(interval * 2));
    let mut dashboard = None;
    let mut error: Option<String> = None;
    let mut redraw = true;
    loop {
        while let Ok(update) = updates.try_recv() {
            match update {
                Update::Scraped(sample) => {
                    history.push(sample);
                    dashboard = history.dashboard();
                    error = None;
                }
                Update::Failed(why) => error = Some(why),
                Update::Quit => return Ok(()),
            }
            redraw = true;
        }
        if redraw {
            let screen =
                Screen { url, interval, dashboard: dashboard.as_ref(), error: error.as_deref(), interactive: true };
            terminal.0.draw(|frame| frame.render_widget(&screen, frame.area())).context("drawing")?;
            redraw = false;
        }
        if event::poll(Duration::from_millis(100)).context("reading the keyboard")? {
            match event::read().context("reading the keyboard")? {
                Event::Key(key) if key.kind == KeyEventKind::Press => {
                    let ctrl_c = key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL);
                    if ctrl_c || matches!(key.code, KeyCode::Char('q') | KeyCode::Esc) {
                        return Ok(());
                    }
                }
                Event::Resize(..) => redraw = true,
                _ => {}
            }
        }
    }
}

/// The terminal in raw mode on the alternate screen, given back on drop;
/// ratatui's panic hook gives it back on a panic too.
struct Terminal(ratatui::DefaultTerminal);

impl Terminal {
    fn enter() -> anyhow::Result<Terminal> {
        match ratatui::try_init() {
            Ok(terminal) => Ok(Terminal(terminal)),
            Err(e) => {
                ratatui::restore();
                Err(e).context("preparing the terminal (for a script, use --once)")
            }
        }
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        ratatui::restore();
    }
}

async fn scrape_every(endpoint: Endpoint, interval: Duration, updates: mpsc::Sender<Update>) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let update = match endpoint.get(timeout(interval)).await {
            Ok(text) => Update::Scraped(sample(&text)),
            Err(e) => Update::Failed(format!("{e:#}")),
        };
        if updates.send(update).is_err() {
            return;
        }
    }
}

async fn quit_on_signal(updates: mpsc::Sender<Update>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut hup)) = (signal(SignalKind::terminate()), signal(SignalKind::hangup())) else {
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = hup.recv() => {}
    }
    let _ = updates.send(Update::Quit);
    // After a hangup the terminal is gone, and crossterm's poll can spin on
    // its end of file without returning to the loop that would see `Quit`:
    // if the loop has not left within a moment, leave from here.
    tokio::time::sleep(Duration::from_millis(500)).await;
    ratatui::restore();
    std::process::exit(0);
}

fn sample(text: &str) -> Sample {
    Sample { at: Instant::now(), wall: chrono::Local::now(), metrics: Metrics::parse(text) }
}

/// How long one scrape may take: the interval, but at least two seconds
/// for a distant host.
fn timeout(interval: Duration) -> Duration {
    interval.max(Duration::from_secs(2))
}

#[cfg(test)]
mod tests;
