#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Headless Chromium (Debian's chromium and chromium-driver, through
Selenium) looks at hw4.cgi's pages for test/hw4cgi_browser.bats.

    hw4cgi_browser.py stream URL GATE SHOTS PROFILE
        Loads the result page at URL, 1280x800.  The test files make every
        session wait at "wait-file" until the file GATE exists: then every
        pane is mid-stream, and a screenshot is taken (SHOTS/mid.png).
        Pane 1 is scrolled up, GATE is created, the page runs to its end
        (SHOTS/done.png).  Then a phone-width viewport and dark mode.
    hw4cgi_browser.py form URL QUERY PROFILE
        The form hw4.cgi shows: test files offered, errors at their field,
        and the values of a result page's query (QUERY) when its "Back to
        the form" is followed.  URL is the CGI's.

Prints what it saw as shell assignments, for the test to check; a page
that did not get where it should within its time prints why on stderr and
exits 1.  Nothing is downloaded: the driver is /usr/bin/chromedriver.
"""
import os
import shlex
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

def browser(profile, eager=False):
    opt = webdriver.ChromeOptions()
    opt.binary_location = "/usr/bin/chromium"
    for f in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
              "--no-first-run", "--disable-background-networking",
              "--disable-component-update", "--disable-sync",
              "--window-size=1280,800", "--user-data-dir=" + profile):
        opt.add_argument(f)
    # The result page loads for as long as the sessions run: do not wait.
    opt.page_load_strategy = "normal" if eager else "none"
    drv = webdriver.Chrome(service=Service("/usr/bin/chromedriver",
                                           log_path=os.devnull), options=opt)
    viewport(drv, 1280, 800, False)
    return drv


def viewport(drv, width, height, mobile):
    drv.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1,
        "mobile": mobile})


def scheme(drv, value):
    drv.execute_cdp_cmd("Emulation.setEmulatedMedia", {
        "features": [{"name": "prefers-color-scheme", "value": value}]})


def until(drv, what, script, seconds=90):
    """Poll script (JavaScript returning true when done), bounded."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if drv.execute_script(script):
            return
        time.sleep(0.1)
    sys.exit("hw4cgi_browser: %s: not within %d s; states %s" % (
        what, seconds, drv.execute_script(STATES)))


STATES = """return Array.from(document.querySelectorAll('.pane .state'))
    .map(e => e.getAttribute('data-state'));"""

PANES = """return Array.from(document.querySelectorAll('.pane')).map(p => {
    const o = p.querySelector('.out'), r = p.getBoundingClientRect();
    return {state: p.querySelector('.state').getAttribute('data-state'),
        clock: p.querySelector('.clock').textContent,
        top: o.scrollTop, height: o.clientHeight, full: o.scrollHeight,
        left: Math.round(r.left), y: Math.round(r.top),
        bottom: Math.round(r.bottom), width: Math.round(r.width),
        lines: o.innerText.split('\\n').length};
});"""

# Elements inside the pane bodies that the CGI itself does not make.
FOREIGN = """return Array.from(document.querySelectorAll('.out *'))
    .filter(e => !['B', 'BR', 'DIV'].includes(e.tagName) ||
        (e.tagName == 'DIV' && !['info', 'err'].includes(e.className)) ||
        e.attributes.length > (e.tagName == 'DIV' ? 1 : 0)).length;"""


def luminance(drv):
    rgb = drv.execute_script(
        "return getComputedStyle(document.body).backgroundColor")
    r, g, b = [int(x) for x in rgb[rgb.index("(") + 1:-1].split(",")[:3]]
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255


def say(**kw):
    for k, v in kw.items():
        if isinstance(v, (list, tuple)):
            print("%s=(%s)" % (k, " ".join(shlex.quote(str(x)) for x in v)))
        else:
            print("%s=%s" % (k, shlex.quote(str(v))))


def stream(url, gate, shots, profile):
    drv = browser(profile)
    try:
        drv.get(url)
        until(drv, "five panes waiting at the gate", """
            const o = document.querySelectorAll('.pane .out');
            return o.length == 5 && Array.from(o).every(e =>
                Array.from(e.querySelectorAll('b')).some(b =>
                    b.textContent.startsWith('wait-file')));""")
        mid = drv.execute_script(PANES)
        drv.save_screenshot(os.path.join(shots, "mid.png"))
        say(mid_states=[p["state"] for p in mid],
            mid_clocks=[p["clock"].replace(" ", "") for p in mid],
            mid_pinned=sum(p["top"] + p["height"] >= p["full"] - 8
                           for p in mid),
            mid_page=drv.execute_script(
                "return document.documentElement.scrollHeight"))
        # The reader scrolls pane 1 up, to a line it wants to read.
        drv.execute_script(
            "document.getElementById('s1').scrollTop = 120;")
        kept = drv.execute_script(
            "return document.getElementById('s1').scrollTop")
        open(gate, "w").close()
        until(drv, "every pane final", """return Array.from(document
            .querySelectorAll('.pane .state')).every(e =>
                ['closed', 'error'].includes(e.getAttribute('data-state')))""")
        until(drv, "the page loaded",
              "return document.readyState == 'complete'")
        done = drv.execute_script(PANES)
        drv.save_screenshot(os.path.join(shots, "done.png"))
        say(done_states=[p["state"] for p in done],
            done_clocks=[p["clock"].replace(" ", "") for p in done],
            done_lines=[p["lines"] for p in done],
            done_full=[p["full"] for p in done],
            pane_height=[p["height"] for p in done],
            kept=kept, scrolled_top=done[0]["top"],
            pinned=[int(p["top"] + p["height"] >= p["full"] - 8)
                    for p in done],
            page=drv.execute_script(
                "return document.documentElement.scrollHeight"),
            view=drv.execute_script("return innerHeight"),
            foreign=drv.execute_script(FOREIGN),
            images=len(drv.find_elements(By.TAG_NAME, "img")),
            scripts_in_panes=len(drv.find_elements(By.CSS_SELECTOR,
                                                   ".out script")),
            columns=len(set(p["y"] for p in done)) == 1 and len(done),
            wrap=drv.execute_script("""const c = getComputedStyle(
                document.getElementById('s1'));
                return [c.whiteSpace, c.overflowWrap, c.wordBreak]"""
                ".join('/')"),
            cmd_apart=drv.execute_script("""const o = getComputedStyle(
                document.getElementById('s1')), b = getComputedStyle(
                document.querySelector('#s1 b'));
                return +(b.color != o.color"""
                " && b.backgroundColor != o.backgroundColor)"),
            light=round(luminance(drv), 2))
        scheme(drv, "dark")
        say(dark=round(luminance(drv), 2))
        scheme(drv, "light")
        # A phone: the panes stack, one above the other, none wider.
        viewport(drv, 390, 844, True)
        phone = drv.execute_script(PANES)
        say(phone_lefts=len(set(p["left"] for p in phone)),
            phone_stacked=int(all(a["bottom"] <= b["y"]
                                  for a, b in zip(phone, phone[1:]))),
            phone_overflow=drv.execute_script(
                "return document.documentElement.scrollWidth - innerWidth"))
    finally:
        drv.quit()


def form(url, query, profile):
    drv = browser(profile, eager=True)
    try:
        drv.get(url)
        files = drv.execute_script("""return Array.from(
            document.querySelectorAll('#files option')).map(o => o.value)""")
        say(inputs=len(drv.find_elements(By.CSS_SELECTOR, "form input")),
            files=files)
        # A row with a bad port: the form again, the reason at the field.
        drv.get(url + "?h1=127.0.0.2&p1=99999&f1=t1.txt"
                "&h2=127.0.0.3&p2=7&f2=t2.txt&sh2=x")
        err = drv.execute_script("""
            const i = document.getElementById('p1'),
                e = document.getElementById(i.getAttribute('aria-describedby')),
                a = i.getBoundingClientRect(), b = e.getBoundingClientRect();
            return [i.value, i.getAttribute('aria-invalid'), e.textContent,
                Math.round(b.top - a.bottom), Math.round(b.left - a.left),
                e.parentNode == i.parentNode,
                document.getElementById('sp2').getAttribute('aria-invalid'),
                document.getElementById('h2').value];""")
        say(err_value=err[0], err_invalid=err[1],
            err_text=err[2], err_below=err[3], err_left=err[4],
            err_same_cell=int(err[5]), err_sp2=err[6], err_h2=err[7])
        # A page that ran, and back to the form: the values are there.
        drv.get(url + "?" + query)
        drv.find_element(By.ID, "back").click()
        until(drv, "the form again", "return !!document.forms[0]")
        say(back=drv.execute_script("""return Array.from(
            document.querySelectorAll('form input')).filter(i => i.value)
            .map(i => i.name + '=' + i.value).join('&')"""))
    finally:
        drv.quit()


if __name__ == "__main__":
    if sys.argv[1] == "stream":
        stream(*sys.argv[2:6])
    else:
        form(*sys.argv[2:5])
