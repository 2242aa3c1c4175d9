//! The dashboard's event loop: input, engine events and finished loads update the app; a frame
//! is drawn at most every ~16 ms and only when something changed, plus once a second while a
//! clock is on screen. Nothing here waits on agents or git.

use std::time::{Duration, SystemTime};

use anyhow::Context;
use crossterm::event::Event as Input;
use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};

use super::app::{Action, App};
use super::load::Loaded;
use super::outcome::Outcome;
use super::terminal::{self, spawn_input_reader, TerminalSession};
use super::view::draw;
use super::DashboardOptions;
use crate::engine::api::{Command, FrontEnd};

const FRAME: Duration = Duration::from_millis(16);
const CLOCK_TICK: Duration = Duration::from_secs(1);

/// Runs the full-screen dashboard on the real terminal (stdout) until it ends: the run ended or
/// was stopped from here (its exit code), or the dashboard detached (`opts.detachable`, or a
/// request on `opts.detach_requests`) and the agents keep running.
pub async fn run(front: FrontEnd, mut opts: DashboardOptions) -> anyhow::Result<Outcome> {
    let FrontEnd {
        commands,
        mut events,
        info,
    } = front;
    let mut detach_requests = opts.detach_requests.take();
    let mut session = TerminalSession::enter().context("cannot set up the terminal")?;
    let mut input = spawn_input_reader().context("cannot start reading the keyboard")?;
    let (loaded_tx, mut loaded_rx) = mpsc::unbounded_channel();
    let mut app = App::new(info, opts);
    let (width, height) = crossterm::terminal::size().context("cannot read the terminal size")?;
    app.set_size(width, height);

    let outbox = Outbox {
        commands,
        loaded: loaded_tx,
    };
    let mut dirty = true;
    let mut last_draw: Option<Instant> = None;
    let mut input_open = true;
    let mut events_open = true;
    loop {
        let resizes = app.pane_resizes().into_iter().map(Action::Send).collect();
        outbox.carry_out(&mut app, resizes);
        match app.outcome() {
            Some(Outcome::Ended(code)) => {
                // The terminal back first: what comes next is on the main screen.
                drop(session);
                say_farewell(&app);
                return Ok(Outcome::Ended(code));
            }
            // What to say (the run id, how to come back) is the caller's.
            Some(detached) => return Ok(detached),
            None => {}
        }
        if app.take_suspend() {
            // Returns once the shell continues grove (`fg`); then the agents go on too.
            session.suspend().context("cannot suspend")?;
            outbox.carry_out(&mut app, vec![Action::Send(Command::Continue)]);
            let (width, height) =
                crossterm::terminal::size().context("cannot read the terminal size")?;
            app.set_size(width, height);
            dirty = true;
        }
        let wake = if dirty {
            Some(last_draw.map_or_else(Instant::now, |t| t + FRAME))
        } else if app.needs_clock() {
            Some(last_draw.map_or_else(Instant::now, |t| t + CLOCK_TICK))
        } else {
            None
        };
        tokio::select! {
            biased;
            _ = sleep_until(wake.unwrap_or_else(Instant::now)), if wake.is_some() => {
                app.prepare_frame(SystemTime::now());
                if let Err(e) = session.draw(|frame| draw(&app, frame)) {
                    // The terminal went away (closed, hung up): a signal already queued says
                    // so; without one a detachable dashboard leaves the agents running all
                    // the same.
                    match detach_requests.as_mut().and_then(|r| r.try_recv().ok()) {
                        Some(signal) => app.detach_for_signal(signal),
                        None if app.detach_on_lost_terminal() => {}
                        None => return Err(e).context("cannot draw"),
                    }
                }
                last_draw = Some(Instant::now());
                dirty = false;
            }
            event = input.recv(), if input_open => match event {
                Some(event) => {
                    let (actions, changed) = on_input(&mut app, event);
                    outbox.carry_out(&mut app, actions);
                    dirty |= changed;
                }
                None => input_open = false,
            },
            event = events.recv(), if events_open => match event {
                Some(event) => {
                    dirty |= app.apply_event(event);
                    // Everything already queued goes into the same frame.
                    while let Ok(event) = events.try_recv() {
                        dirty |= app.apply_event(event);
                    }
                    let alerts = app.take_alerts();
                    if !alerts.is_empty() {
                        // A failed bell is not worth stopping the dashboard for.
                        let _ = session.bell();
                        notify_desktop(alerts);
                    }
                }
                None if app.events_ended() => events_open = false,
                None => anyhow::bail!("the engine stopped before the run finished"),
            },
            Some(signal) = next_request(&mut detach_requests) => {
                app.detach_for_signal(signal);
                app.prepare_frame(SystemTime::now());
                // After SIGHUP there may be no terminal to draw on: detach all the same.
                let _ = session.draw(|frame| draw(&app, frame));
            }
            Some(loaded) = loaded_rx.recv() => {
                app.loaded(loaded);
                dirty = true;
            }
            () = terminal::panicked() => {
                // Returning makes the CLI stop the agents and write the results before it
                // prints this.
                anyhow::bail!(
                    "an internal error (the panic reported above) ended the dashboard; the \
                     agents were stopped and the results written"
                )
            }
        }
    }
}

/// The next detach request; pending forever once there is no channel or it closed.
async fn next_request(requests: &mut Option<mpsc::UnboundedReceiver<String>>) -> Option<String> {
    let Some(channel) = requests else {
        return std::future::pending().await;
    };
    match channel.recv().await {
        Some(signal) => Some(signal),
        None => {
            *requests = None;
            std::future::pending().await
        }
    }
}

/// Where the run is and what comes next, on stdout (no panic when the terminal is gone).
fn say_farewell(app: &App) {
    for line in app.farewell() {
        crate::cli::out::say(line);
    }
}

/// A desktop notification per waiting agent where `notify-send` exists, looked up and run on a
/// blocking thread so the dashboard never waits for it (the lookup reads every PATH directory).
fn notify_desktop(alerts: Vec<(String, String)>) {
    tokio::task::spawn_blocking(move || {
        let Some(program) = crate::agent::find_program("notify-send") else {
            return;
        };
        for (task, prompt) in alerts {
            let mut command = std::process::Command::new(&program);
            command
                .args([
                    "--app-name=grove",
                    &format!("grove: {task} is waiting"),
                    &prompt,
                ])
                .stdin(std::process::Stdio::null());
            // Through the reaper's waited children, so it never takes this one's status.
            let _ = crate::pty::output(&mut command);
        }
    });
}

/// Applies one input event; returns its actions and whether the screen may have changed.
fn on_input(app: &mut App, event: Input) -> (Vec<Action>, bool) {
    match event {
        Input::Key(key) => (app.handle_key(key), true),
        Input::Mouse(mouse) => (Vec::new(), app.handle_mouse(mouse)),
        Input::Paste(text) => (app.handle_paste(&text), true),
        Input::Resize(width, height) => {
            app.set_size(width, height);
            (Vec::new(), true)
        }
        Input::FocusGained | Input::FocusLost => (Vec::new(), false),
    }
}

/// Where actions go: commands to the engine, loads to blocking threads whose results come back
/// on the loop's channel.
struct Outbox {
    commands: mpsc::UnboundedSender<Command>,
    loaded: mpsc::UnboundedSender<Loaded>,
}

impl Outbox {
    fn carry_out(&self, app: &mut App, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Send(command) => {
                    if self.commands.send(command).is_err() {
                        app.engine_gone();
                    }
                }
                Action::Load(load) => {
                    let loaded = self.loaded.clone();
                    tokio::task::spawn_blocking(move || {
                        // The loop may have ended meanwhile; then nobody wants the result.
                        let _ = loaded.send(load.run());
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn detach_requests_arrive_and_a_closed_channel_asks_nothing() {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut requests = Some(rx);
        tx.send("SIGHUP".to_string()).unwrap();
        assert_eq!(next_request(&mut requests).await.as_deref(), Some("SIGHUP"));
        drop(tx);
        // Polled first, the request finds the channel closed and stays pending for good.
        tokio::select! {
            biased;
            request = next_request(&mut requests) => panic!("asked {request:?}"),
            () = std::future::ready(()) => {}
        }
        assert!(requests.is_none());
        let mut none = None;
        tokio::select! {
            biased;
            request = next_request(&mut none) => panic!("asked {request:?}"),
            () = std::future::ready(()) => {}
        }
    }
}
