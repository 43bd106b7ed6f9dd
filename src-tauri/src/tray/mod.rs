//! The tray icon as a view of the core's state: [`model()`] turns the tenant list into a
//! [`TrayModel`] (pure, unit-tested without a window, in `model.rs`); [`Tray::show`] makes the real
//! menu, tooltip and icon match a model, rebuilding only what changed. Menu items are named by
//! [`MenuId`].

use chrono::{DateTime, Utc};
use std::sync::Mutex;
use tauri::image::Image;
use tauri::menu::{CheckMenuItem, IsMenuItem, Menu, MenuItem, PredefinedMenuItem, Submenu};
use tauri::tray::{MouseButton, MouseButtonState, TrayIcon, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Runtime};
use vbm365_auth_core::TenantStatus;

/// Id of the tray icon (the StatusNotifierItem is exported under it).
pub const TRAY_ID: &str = "vbm365-auth";

const ICON_NORMAL: &[u8] = include_bytes!("../../../icons/tray.png");
const ICON_ATTENTION: &[u8] = include_bytes!("../../../icons/tray-attention.png");

mod model;

pub use model::*;

/// Makes a native item for a model entry.
fn native<R: Runtime>(
    app: &AppHandle<R>,
    entry: &MenuEntry,
) -> tauri::Result<Box<dyn IsMenuItem<R>>> {
    Ok(match entry {
        MenuEntry::Item { id, text, enabled } => Box::new(MenuItem::with_id(
            app,
            id.as_id(),
            text,
            *enabled,
            None::<&str>,
        )?),
        MenuEntry::Check { id, text, checked } => Box::new(CheckMenuItem::with_id(
            app,
            id.as_id(),
            text,
            true,
            *checked,
            None::<&str>,
        )?),
        MenuEntry::Submenu {
            id,
            text,
            enabled,
            items,
        } => {
            let sub = Submenu::with_id(app, id.as_id(), text, *enabled)?;
            for child in items {
                sub.append(native(app, child)?.as_ref())?;
            }
            Box::new(sub)
        }
        MenuEntry::Separator => Box::new(PredefinedMenuItem::separator(app)?),
    })
}

/// Builds the native menu of a model.
pub fn build_menu<R: Runtime>(app: &AppHandle<R>, entries: &[MenuEntry]) -> tauri::Result<Menu<R>> {
    let menu = Menu::new(app)?;
    for e in entries {
        menu.append(native(app, e)?.as_ref())?;
    }
    Ok(menu)
}

fn icon(attention: bool) -> tauri::Result<Image<'static>> {
    Image::from_bytes(if attention {
        ICON_ATTENTION
    } else {
        ICON_NORMAL
    })
}

/// What a click on the tray icon itself does ([`icon_click`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IconClick {
    /// Show the window, as "Show window" does.
    ShowWindow,
}

/// What the app does for an event of the tray icon itself (not of its menu). Windows and macOS
/// report clicks: a left click shows the window (on its release, as Windows' own tray icons do),
/// and a right click opens the menu, which the tray does by itself (`show_menu_on_left_click`
/// off leaves it to the right button). Everything else does nothing, the double click included:
/// Windows reports one as press, release, double click, release, so the window was asked to show
/// on the first release already, and the second release finds that window process and only brings
/// its window forward ([`crate::window::open`] starts at most one). Linux's AppIndicator reports
/// no click at all and opens the menu on any click.
pub fn icon_click(ev: &TrayIconEvent) -> Option<IconClick> {
    match ev {
        TrayIconEvent::Click {
            button: MouseButton::Left,
            button_state: MouseButtonState::Up,
            ..
        } => Some(IconClick::ShowWindow),
        _ => None,
    }
}

/// The real tray icon and the model it currently shows.
pub struct Tray<R: Runtime> {
    icon: TrayIcon<R>,
    shown: Mutex<Option<TrayModel>>,
    recent: Mutex<Recent>,
}

impl<R: Runtime> Tray<R> {
    /// Creates the tray icon with an initial model. Menu clicks go to `on_menu`, and so does a
    /// click on the icon that shows the window ([`icon_click`]), as [`MenuId::ShowWindow`].
    pub fn create(
        app: &AppHandle<R>,
        initial: TrayModel,
        on_menu: impl Fn(&AppHandle<R>, MenuId) + Send + Sync + 'static,
    ) -> tauri::Result<Self> {
        let on_menu = std::sync::Arc::new(on_menu);
        let on_click = on_menu.clone();
        let menu = build_menu(app, &initial.menu)?;
        let icon = TrayIconBuilder::with_id(TRAY_ID)
            .icon(icon(initial.attention)?)
            .tooltip(&initial.tooltip)
            .menu(&menu)
            .show_menu_on_left_click(false)
            .on_menu_event(move |app, ev| {
                if let Some(id) = MenuId::parse(ev.id().as_ref()) {
                    on_menu(app, id);
                }
            })
            .on_tray_icon_event(move |tray, ev| {
                if let Some(IconClick::ShowWindow) = icon_click(&ev) {
                    on_click(tray.app_handle(), MenuId::ShowWindow);
                }
            })
            .build(app)?;
        Ok(Tray {
            icon,
            shown: Mutex::new(Some(initial)),
            recent: Mutex::new(Recent::default()),
        })
    }

    /// Makes the tray show a tenant list (as returned by `Engine::status`); its active tenant
    /// counts as used now ([`Recent`]).
    pub fn update(&self, tenants: &[TenantStatus], now: DateTime<Utc>) -> tauri::Result<()> {
        let recent = {
            let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(t) = tenants.iter().find(|t| t.active) {
                recent.touch(&t.profile.name);
            }
            recent.clone()
        };
        self.show(model(tenants, recent.names(), now))
    }

    /// Forgets what is shown, so the next [`Tray::show`] rebuilds everything.
    pub fn invalidate(&self) {
        *self.shown.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Makes the tray show `model`, touching only the parts that differ from what it shows.
    pub fn show(&self, model: TrayModel) -> tauri::Result<()> {
        let mut shown = self.shown.lock().unwrap_or_else(|e| e.into_inner());
        let old = shown.take();
        let result = (|| {
            if old.as_ref().map(|o| &o.menu) != Some(&model.menu) {
                let menu = build_menu(self.icon.app_handle(), &model.menu)?;
                self.icon.set_menu(Some(menu))?;
            }
            if old.as_ref().map(|o| o.attention) != Some(model.attention) {
                self.icon.set_icon(Some(icon(model.attention)?))?;
            }
            if old.as_ref().map(|o| &o.tooltip) != Some(&model.tooltip) {
                self.icon.set_tooltip(Some(&model.tooltip))?;
            }
            Ok(())
        })();
        // On failure, forget what is shown so the next call rebuilds everything.
        *shown = result.is_ok().then_some(model);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn click(button: MouseButton, button_state: MouseButtonState) -> TrayIconEvent {
        TrayIconEvent::Click {
            id: TRAY_ID.into(),
            position: tauri::PhysicalPosition::new(10.0, 10.0),
            rect: tauri::Rect::default(),
            button,
            button_state,
        }
    }

    #[test]
    fn a_left_click_on_the_icon_shows_the_window_and_the_right_button_is_the_menus() {
        use MouseButton::{Left, Middle, Right};
        use MouseButtonState::{Down, Up};
        assert_eq!(icon_click(&click(Left, Up)), Some(IconClick::ShowWindow));
        for (button, state) in [(Left, Down), (Right, Down), (Right, Up), (Middle, Up)] {
            assert_eq!(
                icon_click(&click(button, state)),
                None,
                "{button:?} {state:?}"
            );
        }
        let at = || (TRAY_ID.into(), tauri::PhysicalPosition::new(10.0, 10.0));
        let (id, position) = at();
        let hover = [
            TrayIconEvent::Enter {
                id,
                position,
                rect: tauri::Rect::default(),
            },
            TrayIconEvent::Move {
                id: at().0,
                position,
                rect: tauri::Rect::default(),
            },
            TrayIconEvent::Leave {
                id: at().0,
                position,
                rect: tauri::Rect::default(),
            },
        ];
        for ev in &hover {
            assert_eq!(icon_click(ev), None, "{ev:?}");
        }
    }

    #[test]
    fn a_double_click_asks_for_the_window_once_per_release_and_not_for_the_double_click() {
        // What Windows reports for a double click with the left button.
        let double = TrayIconEvent::DoubleClick {
            id: TRAY_ID.into(),
            position: tauri::PhysicalPosition::new(10.0, 10.0),
            rect: tauri::Rect::default(),
            button: MouseButton::Left,
        };
        let events = [
            click(MouseButton::Left, MouseButtonState::Down),
            click(MouseButton::Left, MouseButtonState::Up),
            double,
            click(MouseButton::Left, MouseButtonState::Up),
        ];
        let asked: Vec<_> = events.iter().filter_map(icon_click).collect();
        assert_eq!(asked, [IconClick::ShowWindow, IconClick::ShowWindow]);
    }
}
