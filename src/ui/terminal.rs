//! The real terminal: entering dashboard mode and always leaving it (on return, on error, on
//! panic anywhere in the process), drawing a frame as one synchronized update, and reading input
//! on its own thread.

use std::io::{self, Stdout};
use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;

use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
};
use crossterm::terminal::{
    BeginSynchronizedUpdate, EndSynchronizedUpdate, EnterAlternateScreen, LeaveAlternateScreen,
};
use crossterm::{cursor, execute, queue, terminal};
use ratatui::backend::CrosstermBackend;
use ratatui::{Frame, Terminal};
use tokio::sync::{mpsc, Notify};

/// True while the terminal is in dashboard mode, so the panic hook knows to restore it.
static ACTIVE: AtomicBool = AtomicBool::new(false);
static PANIC_HOOK: Once = Once::new();
/// Tells the dashboard loop that a panic (on any thread) took the terminal back: a thread that
/// panics need not end the process, and the dashboard must not go on drawing on a restored
/// terminal, so it stops the run instead.
static PANICKED: Notify = Notify::const_new();

/// The terminal in dashboard mode; dropping it restores the terminal.
pub struct TerminalSession {
    /// Dropped by hand (see `Drop`): ratatui's own drop prints with `eprintln!`, which panics
    /// when the terminal is gone.
    terminal: ManuallyDrop<Terminal<CrosstermBackend<Stdout>>>,
}

impl TerminalSession {
    pub fn enter() -> io::Result<TerminalSession> {
        PANIC_HOOK.call_once(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                // A panic of a pane's terminal model is caught and that pane reset
                // (`term::guard`): the dashboard goes on.
                if !crate::term::guard::is_containing() && restore() {
                    PANICKED.notify_one();
                }
                previous(info);
            }));
        });
        ACTIVE.store(true, Ordering::SeqCst);
        let entered =
            enter_modes().and_then(|()| Terminal::new(CrosstermBackend::new(io::stdout())));
        match entered {
            Ok(terminal) => Ok(TerminalSession {
                terminal: ManuallyDrop::new(terminal),
            }),
            Err(e) => {
                restore();
                Err(e)
            }
        }
    }

    /// Ctrl-Z: gives the terminal back and stops this process as a shell's job control would
    /// (SIGTSTP, default action). Returns after `fg` (SIGCONT) with the terminal in dashboard
    /// mode again and cleared, so the next frame is drawn whole.
    pub fn suspend(&mut self) -> io::Result<()> {
        restore();
        // `raise`, not `kill(getpid())`: a signal sent to the process may be taken by any of its
        // threads, and this one would run on (re-entering the dashboard, continuing the agents)
        // until the stop reached it. Sent to this thread, the signal is handled before `raise`
        // returns: it returns after `fg`. (Where the kernel discards SIGTSTP, in an orphaned
        // process group, it returns at once and the dashboard simply goes on.)
        // SAFETY: signals this thread; SIGTSTP keeps its default action, which stops the process.
        unsafe { libc::raise(libc::SIGTSTP) };
        ACTIVE.store(true, Ordering::SeqCst);
        enter_modes()?;
        // Not `Terminal::clear`: it asks the terminal for the cursor position, and the answer
        // would go to the input thread. A new terminal has no idea of the screen: it draws whole.
        execute!(io::stdout(), terminal::Clear(terminal::ClearType::All))?;
        *self.terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
        Ok(())
    }

    /// Draws one frame inside a synchronized update, so the terminal shows it whole.
    pub fn draw(&mut self, render: impl FnOnce(&mut Frame)) -> io::Result<()> {
        queue!(self.terminal.backend_mut(), BeginSynchronizedUpdate)?;
        self.terminal.draw(render)?;
        execute!(self.terminal.backend_mut(), EndSynchronizedUpdate)
    }
}

impl TerminalSession {
    /// Rings the terminal's bell.
    pub fn bell(&mut self) -> io::Result<()> {
        execute!(self.terminal.backend_mut(), crossterm::style::Print('\x07'))
    }
}

impl Drop for TerminalSession {
    fn drop(&mut self) {
        restore();
        // With the cursor shown, ratatui's drop has nothing to do. When it cannot be shown (the
        // terminal was closed: SIGHUP), that drop would print the failure to the same closed
        // terminal and panic; the terminal is left undropped then (the process is leaving).
        if self.terminal.show_cursor().is_ok() {
            // SAFETY: dropped once, here, and never used again.
            unsafe { ManuallyDrop::drop(&mut self.terminal) };
        }
    }
}

/// Raw mode, the alternate screen, mouse capture and bracketed paste on, cursor hidden.
fn enter_modes() -> io::Result<()> {
    terminal::enable_raw_mode()?;
    execute!(
        io::stdout(),
        EnterAlternateScreen,
        EnableMouseCapture,
        EnableBracketedPaste,
        cursor::Hide
    )
}

/// Resolves once a panic has restored the terminal while the dashboard was on it.
pub(super) async fn panicked() {
    PANICKED.notified().await;
}

/// Leaves dashboard mode: main screen, cursor shown, raw mode, mouse capture and bracketed
/// paste off. Does nothing when not in dashboard mode, so it is safe to call twice; true if it
/// restored the terminal.
fn restore() -> bool {
    let active = ACTIVE.swap(false, Ordering::SeqCst);
    if active {
        // Best effort: this also runs while panicking, where there is no one to report to.
        let _ = terminal::disable_raw_mode();
        let _ = execute!(
            io::stdout(),
            DisableBracketedPaste,
            DisableMouseCapture,
            LeaveAlternateScreen,
            cursor::Show
        );
    }
    active
}

/// Reads terminal input on a dedicated thread (a blocking read, no polling) into a channel.
/// The thread ends at the first event after the receiver is dropped.
pub fn spawn_input_reader() -> io::Result<mpsc::UnboundedReceiver<crossterm::event::Event>> {
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::Builder::new()
        .name("grove-input".into())
        .spawn(move || {
            while let Ok(event) = crossterm::event::read() {
                if tx.send(event).is_err() {
                    break;
                }
            }
        })?;
    Ok(rx)
}
