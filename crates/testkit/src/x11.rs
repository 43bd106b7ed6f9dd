//! The top-level windows of a process on the X display (`$DISPLAY`), seen and closed as a window
//! manager sees and closes them: by their `_NET_WM_PID`, and with a `WM_DELETE_WINDOW` message
//! (what the title bar's close button sends). Under Xvfb there is no window manager, so the app's
//! top-level windows are children of the root window. Also the clipboard's text, read as any
//! application pastes it.

use std::time::{Duration, Instant};
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{
    Atom, AtomEnum, ClientMessageEvent, ConnectionExt, CreateWindowAux, EventMask, MapState,
    Window, WindowClass,
};
use x11rb::protocol::Event;
use x11rb::rust_connection::RustConnection;

/// A top-level window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopLevel {
    pub id: Window,
    /// `_NET_WM_NAME` (else `WM_NAME`), "" when it has none.
    pub title: String,
    /// Mapped and viewable: on screen.
    pub visible: bool,
}

/// A connection to the X display.
pub struct Display {
    conn: RustConnection,
    root: Window,
    net_wm_pid: Atom,
    net_wm_name: Atom,
    utf8_string: Atom,
    wm_protocols: Atom,
    wm_delete_window: Atom,
    clipboard: Atom,
}

fn err(e: impl std::fmt::Display) -> String {
    format!("X11: {e}")
}

impl Display {
    /// Connects to `$DISPLAY`.
    pub fn open() -> Result<Display, String> {
        let (conn, screen) = x11rb::connect(None).map_err(err)?;
        let root = conn.setup().roots[screen].root;
        let atom = |name: &str| -> Result<Atom, String> {
            Ok(conn
                .intern_atom(false, name.as_bytes())
                .map_err(err)?
                .reply()
                .map_err(err)?
                .atom)
        };
        Ok(Display {
            net_wm_pid: atom("_NET_WM_PID")?,
            net_wm_name: atom("_NET_WM_NAME")?,
            utf8_string: atom("UTF8_STRING")?,
            wm_protocols: atom("WM_PROTOCOLS")?,
            wm_delete_window: atom("WM_DELETE_WINDOW")?,
            clipboard: atom("CLIPBOARD")?,
            conn,
            root,
        })
    }

    fn property(&self, w: Window, name: Atom, kind: impl Into<Atom>) -> Option<Vec<u8>> {
        let reply = self
            .conn
            .get_property(false, w, name, kind, 0, 4096)
            .ok()?
            .reply()
            .ok()?;
        (reply.format != 0).then_some(reply.value)
    }

    fn pid_of(&self, w: Window) -> Option<u32> {
        let value = self.property(w, self.net_wm_pid, AtomEnum::CARDINAL)?;
        value
            .get(..4)
            .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn title_of(&self, w: Window) -> String {
        self.property(w, self.net_wm_name, self.utf8_string)
            .or_else(|| self.property(w, AtomEnum::WM_NAME.into(), AtomEnum::STRING))
            .map(|v| String::from_utf8_lossy(&v).into_owned())
            .unwrap_or_default()
    }

    /// The top-level windows whose `_NET_WM_PID` is `pid` that have a title (GTK's hidden helper
    /// windows have none).
    pub fn windows_of(&self, pid: u32) -> Result<Vec<TopLevel>, String> {
        let tree = self
            .conn
            .query_tree(self.root)
            .map_err(err)?
            .reply()
            .map_err(err)?;
        let mut out = Vec::new();
        for w in tree.children {
            if self.pid_of(w) != Some(pid) {
                continue;
            }
            let title = self.title_of(w);
            if title.is_empty() {
                continue;
            }
            let visible = self
                .conn
                .get_window_attributes(w)
                .ok()
                .and_then(|c| c.reply().ok())
                .is_some_and(|a| a.map_state == MapState::VIEWABLE);
            out.push(TopLevel {
                id: w,
                title,
                visible,
            });
        }
        Ok(out)
    }

    /// The visible top-level windows of `pid`.
    pub fn visible_windows_of(&self, pid: u32) -> Result<Vec<TopLevel>, String> {
        let mut all = self.windows_of(pid)?;
        all.retain(|w| w.visible);
        Ok(all)
    }

    /// Asks a window to close, as a window manager does when its close button is clicked: a
    /// `WM_PROTOCOLS` client message carrying `WM_DELETE_WINDOW`.
    pub fn close(&self, w: Window) -> Result<(), String> {
        let ev = ClientMessageEvent::new(
            32,
            w,
            self.wm_protocols,
            [self.wm_delete_window, x11rb::CURRENT_TIME, 0, 0, 0],
        );
        self.conn
            .send_event(false, w, EventMask::NO_EVENT, ev)
            .map_err(err)?;
        self.conn.flush().map_err(err)
    }

    /// The text on the clipboard (the `CLIPBOARD` selection as UTF-8), `None` when nobody owns
    /// it or its owner does not answer within `within`: what a paste would get.
    pub fn clipboard_text(&self, within: Duration) -> Result<Option<String>, String> {
        let win = self.conn.generate_id().map_err(err)?;
        self.conn
            .create_window(
                x11rb::COPY_DEPTH_FROM_PARENT,
                win,
                self.root,
                0,
                0,
                1,
                1,
                0,
                WindowClass::INPUT_OUTPUT,
                0,
                &CreateWindowAux::new(),
            )
            .map_err(err)?;
        let result = self.convert_clipboard(win, within);
        let _ = self.conn.destroy_window(win);
        let _ = self.conn.flush();
        result
    }

    fn convert_clipboard(&self, win: Window, within: Duration) -> Result<Option<String>, String> {
        // The owner writes the text into this property of our window, then tells us.
        let target = self.clipboard;
        self.conn
            .convert_selection(
                win,
                self.clipboard,
                self.utf8_string,
                target,
                x11rb::CURRENT_TIME,
            )
            .map_err(err)?;
        self.conn.flush().map_err(err)?;
        let deadline = Instant::now() + within;
        loop {
            match self.conn.poll_for_event().map_err(err)? {
                Some(Event::SelectionNotify(ev)) if ev.requestor == win => {
                    if ev.property == x11rb::NONE {
                        return Ok(None);
                    }
                    let text = self.property(win, target, AtomEnum::ANY);
                    return Ok(text.map(|v| String::from_utf8_lossy(&v).into_owned()));
                }
                Some(_) => {}
                None if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
                None => return Ok(None),
            }
        }
    }
}
