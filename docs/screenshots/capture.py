#!/usr/bin/env python3
"""Takes the README screenshots of the desktop app (docs/screenshots/*.png).

Drives the real `vbm365-auth-app` through tauri-driver (WebDriver) against the local emulators,
with demo tenants in a throwaway config dir. Python standard library only. Run it from the repo
root, after a build, under a display and a Secret Service session:

    xvfb-run -a -s "-screen 0 1280x800x24" scripts/with-keyring python3 docs/screenshots/capture.py

Env: VBM365_BIN (CLI and emulator, default target/debug), VBM365_APP (the app binary, default
target/release/vbm365-auth-app if built, else $VBM365_BIN/vbm365-auth-app),
TAURI_DRIVER (default ~/.cargo/bin/tauri-driver), VBM365_SCREENSHOTS (output dir, default here).
"""
import base64
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

PORT, NATIVE_PORT = 4464, 4465
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.environ.get("VBM365_SCREENSHOTS", HERE)
BIN = os.environ.get("VBM365_BIN", "target/debug")
APP = os.path.abspath(os.environ.get("VBM365_APP") or (
    "target/release/vbm365-auth-app" if os.path.exists("target/release/vbm365-auth-app")
    else f"{BIN}/vbm365-auth-app"))
DRIVER = os.environ.get("TAURI_DRIVER", os.path.expanduser("~/.cargo/bin/tauri-driver"))


def http(method, url, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            text = r.read().decode()
    except urllib.error.HTTPError as e:
        raise SystemExit(f"{method} {url}: {e.code} {e.read().decode()}")
    return json.loads(text) if text else None


def emulator(*args):
    p = subprocess.Popen([f"{BIN}/vbm365-emulator", *args], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True)
    return p, json.loads(p.stdout.readline())


def cli(*args, **kw):
    return subprocess.run([f"{BIN}/vbm365-auth", *args], check=True, capture_output=True,
                          text=True, **kw)


def sign_in_with_cli(emu, tenant):
    p = subprocess.Popen([f"{BIN}/vbm365-auth", "login", "--json", "--no-browser", tenant],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    code = json.loads(p.stdout.readline())["user_code"]
    http("POST", emu["ms_url"] + "/_emulator/approve", {"user_code": code})
    assert p.wait(timeout=30) == 0, f"login {tenant}"


class Session:
    def __init__(self, app):
        caps = {"capabilities": {"alwaysMatch": {"tauri:options": {"application": app}}}}
        deadline = time.time() + 20
        while True:  # tauri-driver may still be starting
            try:
                sid = http("POST", f"http://127.0.0.1:{PORT}/session", caps)["value"]["sessionId"]
                break
            except (ConnectionError, urllib.error.URLError):
                if time.time() > deadline:
                    raise
                time.sleep(0.3)
        self.base = f"http://127.0.0.1:{PORT}/session/{sid}"

    def js(self, script, *args):
        return http("POST", self.base + "/execute/sync",
                    {"script": script, "args": list(args)})["value"]

    def wait_text(self, css, want, within=20):
        deadline = time.time() + within
        while True:
            t = self.js("const e=document.querySelector(arguments[0]);"
                        "return e ? e.textContent : ''", css)
            if want in t:
                return t
            if time.time() > deadline:
                raise SystemExit(f"{css}: wanted {want!r}, have {t!r}")
            time.sleep(0.2)

    def click(self, css):
        self.js("document.querySelector(arguments[0]).click()", css)

    def fill(self, css, value):
        self.js("const e=document.querySelector(arguments[0]); e.value=arguments[1];"
                "e.dispatchEvent(new Event('input',{bubbles:true}));"
                "e.dispatchEvent(new Event('change',{bubbles:true}))", css, value)

    def shot(self, name):
        time.sleep(0.6)  # let transitions and the ticking expiry settle
        self.js("document.activeElement && document.activeElement.blur()")
        png = base64.b64decode(http("GET", self.base + "/screenshot")["value"])
        path = os.path.join(OUT, name)
        with open(path, "wb") as f:
            f.write(png)
        print(f"{path}: {len(png)} bytes", file=sys.stderr)

    def close(self):
        try:
            http("DELETE", self.base)
        except Exception:
            pass


def main():
    os.makedirs(OUT, exist_ok=True)
    work = tempfile.mkdtemp(prefix="vbm365-shots.")
    os.environ["VBM365_AUTH_CONFIG_DIR"] = os.path.join(work, "config")
    procs = []
    try:
        p, emu = emulator("--interval", "2")
        procs.append(p)
        p, other = emulator("--interval", "2")  # a server not trusted yet: the trust dialog
        procs.append(p)
        pin = ["--pin-sha256", emu["cert_sha256"], "--authority", emu["ms_url"]]
        cli("tenant", "add", "contoso.onmicrosoft.com", "--server", emu["vbm_url"], *pin, "--activate")
        cli("tenant", "add", "fabrikam.onmicrosoft.com", "--server", emu["vbm_url"], *pin,
            "--api-version", "v7")
        cli("tenant", "add", "northwind.onmicrosoft.com", "--server", emu["vbm_url"], *pin)
        sign_in_with_cli(emu, "contoso.onmicrosoft.com")
        sign_in_with_cli(emu, "fabrikam.onmicrosoft.com")

        drv = subprocess.Popen([DRIVER, "--port", str(PORT), "--native-port", str(NATIVE_PORT)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(drv)
        time.sleep(1)
        s = Session(APP)
        try:
            s.wait_text("#tenants", "northwind")
            s.wait_text("#tenants", "expires in")
            s.shot("tenants.png")

            s.click('li.tenant[data-name="northwind.onmicrosoft.com"] [data-act="sign-in"]')
            s.wait_text("#signin-status", "Waiting")
            code = s.js("return document.querySelector('#signin-code').textContent.trim()")
            s.shot("sign-in.png")

            http("POST", emu["ms_url"] + "/_emulator/decline", {"user_code": code})
            s.wait_text("#signin-error-title", "declined")
            s.shot("sign-in-declined.png")
            s.click("#signin-cancel")
            time.sleep(0.5)

            s.click("#add-tenant")
            s.fill("#f-name", "adatum.onmicrosoft.com")
            s.fill("#f-server", other["vbm_url"])
            s.fill("#f-authority-preset", "custom")
            s.fill("#f-authority", other["ms_url"])
            s.click("#tenant-save")
            s.wait_text("#trust-fingerprint", ":")
            s.shot("trust-dialog.png")
        finally:
            s.close()
    finally:
        for p in reversed(procs):
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
        subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
