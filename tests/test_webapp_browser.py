"""The web app in a real browser: headless Chromium against a real ``serve`` process on loopback.

One account goes the whole way a person would: sign up in the app, follow the mailed link, log in,
upload a corpus photo (with a progress bar fed by the real upload), see it published and loaded at
a variant's URL, like it, comment on it. Another pass uses the keyboard alone on a phone-size
screen. Screenshots are test artefacts: their paths are printed, and they are kept under
``test-output/webapp/``. The browser's console must stay free of errors (a broken module or a
Content-Security-Policy violation shows up there).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Iterator

import blurhash
import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

import webapp_browser
from conftest import corpus_file
from helpers_auth import outbox_mails
from serverproc import ServerProcess, free_port, server_env

PASSWORD = "correct horse battery staple"
PHOTO = "phone-3264x2448.jpg"
# Routes the app asks for to learn whether this server offers them; a 404 there is expected.
PROBED = ("/api/v1/feed", "/api/v1/notifications", "/api/v1/users/me")
# Chromium asks every page's server for one; the mailed link's page (not the app) may not have one.
NOT_OURS = ("/favicon.ico",)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("webapp-server")
    # Access tokens that the app must refresh every few seconds (it refreshes 30 s before expiry):
    # views make calls in parallel, and two refreshes with one rotating token would end the login.
    env = server_env(IMAGEPIPE_WORKERS="1", IMAGEPIPE_ACCESS_TOKEN_TTL_S="33")
    with ServerProcess(data_dir=root / "data", port=free_port(), env=env) as server:
        server.start()
        yield server


@pytest.fixture(scope="module")
def driver() -> Iterator[WebDriver]:
    problem = webapp_browser.missing()
    if problem:
        pytest.fail(problem)  # not a skip: CI must run this test
    profile = webapp_browser.fresh_profile()
    chromium = webapp_browser.start_chromium(profile)
    try:
        yield chromium
    finally:
        chromium.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def shots(driver: WebDriver, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[webapp_browser.Screenshots]:
    taken = webapp_browser.Screenshots(driver, tmp_path)
    yield taken
    with capsys.disabled():
        for path in taken.paths:
            print(f"\nscreenshot: {path} (kept as {taken.kept / path.name})", end="")


@pytest.fixture(autouse=True)
def console_allows(driver: WebDriver) -> Iterator[list[tuple[str, str]]]:
    """The browser console must stay free of errors; a test lists the (path, status) answers it
    provokes on purpose, which Chromium logs as errors too."""
    allowed = [(path, "404") for path in PROBED + NOT_OURS]
    driver.get_log("browser")  # start clean
    yield allowed
    errors = [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    unexpected = [m for m in errors if not any(path in m and f" {status} " in m for path, status in allowed)]
    assert not unexpected, "errors in the browser console:\n" + "\n".join(unexpected)


# -- helpers ------------------------------------------------------------------------------------


def wait(driver: WebDriver, seconds: float = 15) -> WebDriverWait:
    return WebDriverWait(driver, seconds)


def heading(driver: WebDriver, text: str) -> WebElement:
    """The view's heading, once it says ``text``."""
    wait(driver).until(EC.text_to_be_present_in_element((By.TAG_NAME, "h1"), text))
    return driver.find_element(By.TAG_NAME, "h1")


def fill(driver: WebDriver, values: dict[str, str]) -> None:
    for element_id, value in values.items():
        field = driver.find_element(By.ID, element_id)
        field.clear()
        field.send_keys(value)


def api_get(server: ServerProcess, path: str, token: str | None = None) -> Any:
    request = urllib.request.Request(server.base_url + path)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as resp:
        return json.load(resp)


def api_post(server: ServerProcess, path: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(server.base_url + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as resp:
        return json.load(resp)


def api_error(server: ServerProcess, path: str, body: dict[str, Any]) -> dict[str, str]:
    """The ``error`` of a POST that the API refuses."""
    with pytest.raises(urllib.error.HTTPError) as refused:
        api_post(server, path, body)
    return json.load(refused.value)["error"]


def mailed_link(server: ServerProcess, to: str) -> str:
    """The link in the newest mail to ``to``, whatever page it opens."""
    for mail in reversed(outbox_mails(server.data_dir)):
        if mail["To"] == to:
            links = re.findall(r"https?://\S+token=\S+", mail.get_content())
            if links:
                return links[0]
    raise AssertionError(f"no mail with a link for {to} in {server.data_dir}/outbox")


def follow_mailed_link(driver: WebDriver, link: str, username: str) -> str:
    """Opens the link as the reader of the mail would; a page with a form gets what it asks for
    (its username and password fields) and is sent. The page's text afterwards."""
    driver.get(link)
    forms = driver.find_elements(By.TAG_NAME, "form")
    if forms:
        form = forms[0]
        for name, value in (("username", username), ("login", username), ("password", PASSWORD)):
            for field in form.find_elements(By.NAME, name):
                field.send_keys(value)
        form.find_element(By.CSS_SELECTOR, "button[type=submit], input[type=submit], button:not([type])").click()
        wait(driver).until(EC.staleness_of(form))
    return driver.find_element(By.TAG_NAME, "body").text


def sign_up_in_app(driver: WebDriver, server: ServerProcess, username: str) -> None:
    driver.get(server.base_url + "/#/signup")
    heading(driver, "Create an account")
    fill(driver, {"email": f"{username}@example.org", "username": username, "password": PASSWORD})
    driver.find_element(By.CSS_SELECTOR, "main button[type=submit]").click()
    heading(driver, "Check your mail")


def log_in_in_app(driver: WebDriver, server: ServerProcess, username: str) -> None:
    driver.get(server.base_url + "/#/login")
    heading(driver, "Log in")
    fill(driver, {"login": username, "password": PASSWORD})
    driver.find_element(By.CSS_SELECTOR, "main button[type=submit]").click()
    wait(driver).until(EC.element_to_be_clickable((By.LINK_TEXT, "Upload")))


def log_out_in_app(driver: WebDriver, server: ServerProcess) -> None:
    driver.get(server.base_url + "/")
    nav = wait(driver).until(EC.presence_of_element_located((By.CSS_SELECTOR, "#nav li")))
    buttons = driver.find_elements(By.XPATH, "//nav//button[normalize-space()='Log out']")
    if buttons:
        buttons[0].click()
        wait(driver).until(EC.staleness_of(nav))
    wait(driver).until(EC.element_to_be_clickable((By.LINK_TEXT, "Log in")))


def post_id_of(card: WebElement) -> str:
    return card.get_attribute("data-post-id")


def loaded_image(driver: WebDriver, card: WebElement) -> dict[str, Any]:
    img = card.find_element(By.CSS_SELECTOR, ".frame img")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", img)
    wait(driver, 30).until(lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", img))
    return driver.execute_script(
        "const i = arguments[0]; return {src: i.currentSrc, natural: i.naturalWidth, shown: i.getBoundingClientRect().width,"
        " opacity: getComputedStyle(i).opacity}", img)


# -- the whole way --------------------------------------------------------------------------------


def test_sign_up_verify_log_in_upload_see_it_like_and_comment(
    served: ServerProcess, driver: WebDriver, shots: webapp_browser.Screenshots, console_allows: list[tuple[str, str]]
) -> None:
    console_allows.append(("/api/v1/auth/login", "403"))  # logging in before the address is confirmed
    username = f"ada_{uuid.uuid4().hex[:8]}"
    driver.get(served.base_url + "/")
    heading(driver, "Share your photos")
    shots.take("welcome")

    sign_up_in_app(driver, served, username)
    page = driver.find_element(By.TAG_NAME, "main").text
    assert str(served.data_dir / "outbox") in page, "in file mail mode the page says where the mail is"
    shots.take("check-your-mail")

    # Before the link is followed, logging in is refused, and the page shows the API's own message.
    driver.get(served.base_url + "/#/login")
    heading(driver, "Log in")
    fill(driver, {"login": username, "password": PASSWORD})
    driver.find_element(By.CSS_SELECTOR, "main button[type=submit]").click()
    shown = wait(driver).until(EC.visibility_of_element_located((By.CSS_SELECTOR, "main .form-error"))).text
    refused = api_error(served, "/api/v1/auth/login", {"login": username, "password": PASSWORD})
    assert refused["code"] == "email_not_verified"
    assert shown.lower().rstrip(".") == refused["message"].lower().rstrip("."), (shown, refused)
    shots.take("login-refused-until-verified")

    outcome = follow_mailed_link(driver, mailed_link(served, f"{username}@example.org"), username)
    assert '"email_verified": true' in outcome or "confirmed" in outcome.lower(), outcome
    shots.take("mailed-link-followed")

    log_in_in_app(driver, served, username)
    # Once the access token is due for refresh, calls made together share one refresh: a second
    # refresh with the same (rotating, single-use) token would be taken as theft and end the login.
    answers = _run_module(driver, "api.js", """
        await new Promise((resolve) => setTimeout(resolve, 3500));
        const calls = [1, 2, 3, 4].map(() => m.api('GET', '/auth/me').then((me) => me.username, (e) => e.code));
        return [...await Promise.all(calls), m.loggedIn()];""")
    assert answers == [username] * 4 + [True], answers
    driver.find_element(By.LINK_TEXT, "Upload").click()
    heading(driver, "Upload a photo")

    # A slow uplink, so the bar visibly moves; every value it shows is recorded.
    driver.set_network_conditions(latency=5, download_throughput=64 * 1024 * 1024, upload_throughput=1536 * 1024)
    driver.execute_script("""
        window.progressSeen = [];
        const bar = document.getElementById('upload-progress');
        new MutationObserver(() => window.progressSeen.push(bar.value)).observe(bar, {attributes: true});
    """)
    driver.find_element(By.ID, "photo").send_keys(str(corpus_file(PHOTO)))
    fill(driver, {"caption": "First light over the harbour"})
    driver.find_element(By.CSS_SELECTOR, ".upload-form button[type=submit]").click()
    wait(driver, 20).until(EC.text_to_be_present_in_element((By.ID, "upload-stage"), "Uploading"))
    shots.take("uploading")
    wait(driver, 60).until(EC.text_to_be_present_in_element((By.ID, "upload-stage"), "Published"))
    driver.delete_network_conditions()
    seen = driver.execute_script("return window.progressSeen")
    assert seen and max(seen) == 100, seen
    assert any(0 < value < 100 for value in seen), f"the bar never showed the upload under way: {seen}"

    card = driver.find_element(By.CSS_SELECTOR, ".result article.post")
    post_id = post_id_of(card)
    image = loaded_image(driver, card)
    post = api_get(served, f"/api/v1/posts/{post_id}")
    assert post["status"] == "published" and post["caption"] == "First light over the harbour"
    variant_urls = {v["url"] for v in post["variants"].values()}
    assert image["src"] in variant_urls, (image, variant_urls)
    assert image["natural"] > 0
    # The browser picked by width: the 600 px column gets the medium variant, not the 3264 px original.
    assert image["src"] == post["variants"]["medium"]["url"], image
    assert card.find_element(By.CSS_SELECTOR, "canvas.placeholder").is_displayed()
    shots.take("published")

    driver.get(f"{served.base_url}/#/p/{post_id}")
    like = wait(driver).until(EC.element_to_be_clickable((By.CSS_SELECTOR, "button.like")))
    assert like.get_attribute("aria-pressed") == "false"
    like.click()
    wait(driver).until(lambda d: like.get_attribute("aria-pressed") == "true")
    assert driver.find_element(By.CSS_SELECTOR, ".actions .count").text == "1 like"
    assert api_get(served, f"/api/v1/posts/{post_id}")["like_count"] == 1

    fill(driver, {"comment-body": "The colours!\nLike a painting."})
    driver.find_element(By.CSS_SELECTOR, ".comment-form button[type=submit]").click()
    wait(driver).until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, "ol.comments"), "Like a painting."))
    assert driver.find_element(By.ID, "comments-heading").text == "1 comment"
    comments = api_get(served, f"/api/v1/posts/{post_id}/comments")["items"]
    assert [c["body"] for c in comments] == ["The colours!\nLike a painting."]
    assert comments[0]["user"]["username"] == username
    loaded_image(driver, driver.find_element(By.CSS_SELECTOR, "article.post"))
    shots.take("liked-and-commented")

    # A reload keeps the login (refresh token in this tab's sessionStorage) and the like.
    driver.refresh()
    like = wait(driver).until(EC.element_to_be_clickable((By.CSS_SELECTOR, "button.like")))
    assert like.get_attribute("aria-pressed") == "true"
    assert "token" not in driver.current_url

    driver.get(f"{served.base_url}/#/u/{username}")
    heading(driver, f"@{username}")
    tile = wait(driver).until(EC.presence_of_element_located((By.CSS_SELECTOR, f".grid a[href='#/p/{post_id}']")))
    assert tile.find_element(By.TAG_NAME, "img").get_attribute("alt")
    shots.take("profile")


# -- the page's own code against references ------------------------------------------------------


def _run_module(driver: WebDriver, module: str, body: str) -> Any:
    """Runs ``body`` with the app's module ``module`` imported as ``m``; its result comes back."""
    return driver.execute_async_script(f"""
        const done = arguments[arguments.length - 1];
        const base = document.querySelector('script[type=module]').src.replace(/js\\/main\\.js$/, '');
        import(base + 'js/{module}').then(async (m) => {{ {body} }}).then(done, (e) => done('error: ' + e));
    """)


def test_blurhash_and_sha256_match_the_reference_implementations(served: ServerProcess, driver: WebDriver) -> None:
    driver.get(served.base_url + "/")
    wait(driver).until(EC.presence_of_element_located((By.CSS_SELECTOR, "main h1")))
    for hash_ in ("LXIq$K?HW,btNEjcNFIU0cNGV]WB", "LEHV6nWB2yk8pyo0adR*.7kCMdnj", "|rF?hV%2WCj[ayj[a|j[az_NaeWBj@ayfRayfQfQM{M|azj[azf6fQfQfQIpWXofj[ayj[j[fQayWCoeoeaya}j[ayfQa{oLj?j[WVj[ayayj[fQoff7azayj[ayj[j[ayofayayayj[fQj[ayayj[ayfjj[j[ayjuayj["):
        got = _run_module(driver, "blurhash.js", f"return Array.from(m.decode({json.dumps(hash_)}, 12, 8))")
        assert not isinstance(got, str), got
        want = list(blurhash.decode(hash_, 12, 8).convert("RGBA").tobytes())  # reference: the C decoder
        assert len(got) == len(want)
        worst = max(abs(a - b) for a, b in zip(got, want))
        assert worst <= 2, f"{hash_}: pixels differ by up to {worst}"

    cases = [b"", b"abc", bytes(range(256)) * 3] + [b"x" * n for n in (55, 56, 63, 64, 65, 119, 120)]
    encoded = json.dumps([base64.b64encode(c).decode() for c in cases])
    got = _run_module(driver, "sha256.js",
                      f"return {encoded}.map((b) => m.sha256Plain(Uint8Array.from(atob(b), (c) => c.charCodeAt(0))))")
    assert got == [hashlib.sha256(c).hexdigest() for c in cases]


# -- keyboard only, on a phone ---------------------------------------------------------------------

FOCUSABLE = ("a[href], button, input, textarea, select, summary, [tabindex]:not([tabindex='-1'])")


def press(driver: WebDriver, *keys: str) -> None:
    """Keys as the keyboard sends them, to whatever has the focus (a file input takes no typed text)."""
    ActionChains(driver).send_keys(*keys).perform()


def _from_the_top(driver: WebDriver) -> None:
    """Focus on the page's first control (the skip link), as after a page load and one Tab."""
    driver.execute_script("window.scrollTo(0, 0); document.querySelector('.skip-link').focus()")


def _tab_through(driver: WebDriver, limit: int = 80) -> list[dict[str, Any]]:
    """Presses Tab from the top of the page until the focus comes round again: what got it, in order."""
    _from_the_top(driver)
    reached: list[dict[str, Any]] = []
    for step in range(limit):
        if step:
            press(driver, Keys.TAB)
        element = driver.switch_to.active_element
        if element.tag_name in ("body", "html"):  # past the last control, before coming round
            continue
        key = driver.execute_script("""
            const e = arguments[0];
            if (!e.dataset.tabSeen) e.dataset.tabSeen = String(Math.random());
            return e.dataset.tabSeen;""", element)
        if reached and key == reached[0]["key"]:
            break
        reached.append({
            "key": key, "tag": element.tag_name, "name": element.accessible_name.strip(),
            "step": step, "outline": driver.execute_script("const s = getComputedStyle(arguments[0]); return s.outlineStyle + ' ' + s.outlineWidth", element),
        })
    return reached


def _controls(driver: WebDriver) -> list[WebElement]:
    """Every control a mouse user could reach: visible and focusable."""
    return [e for e in driver.find_elements(By.CSS_SELECTOR, FOCUSABLE)
            if e.is_displayed() and e.is_enabled() and not e.get_attribute("disabled")]


def _keyboard_pass(driver: WebDriver, where: str) -> list[dict[str, Any]]:
    reached = _tab_through(driver)
    keys = {r["key"] for r in reached}
    for control in _controls(driver):
        key = control.get_attribute("data-tab-seen")
        described = control.get_attribute("outerHTML")[:120]
        assert key in keys, f"{where}: Tab never reaches {described}"
        assert control.accessible_name.strip(), f"{where}: no accessible name: {described}"
        if control.tag_name in ("input", "textarea", "select"):  # a browser names a file input "Choose File"
            labelled = driver.execute_script(
                "const e = arguments[0]; return e.labels.length > 0 || e.hasAttribute('aria-labelledby')"
                " || e.hasAttribute('aria-label')", control)
            assert labelled, f"{where}: a form field without a label: {described}"
    for r in reached:
        assert r["name"], f"{where}: a <{r['tag']}> without an accessible name gets the focus"
        if r["step"]:  # the first was focused by script, not by a key
            assert not r["outline"].startswith("none"), f"{where}: no visible focus on {r}"
    return reached


def test_keyboard_only_on_a_phone_size_screen(
    served: ServerProcess, driver: WebDriver, shots: webapp_browser.Screenshots
) -> None:
    username = f"kim_{uuid.uuid4().hex[:8]}"
    driver.set_window_size(390, 844)  # a phone
    try:
        log_out_in_app(driver, served)  # an earlier test's login, if any
        sign_up_in_app(driver, served, username)
        follow_mailed_link(driver, mailed_link(served, f"{username}@example.org"), username)

        # Log in with the keyboard alone: Tab to each field, type, Enter.
        driver.get(served.base_url + "/#/login")
        heading(driver, "Log in")
        reached = _keyboard_pass(driver, "login page")
        names = [r["name"] for r in reached]
        assert names.index("Email or username") < names.index("Password") < names.index("Log in", names.index("Password"))
        _from_the_top(driver)
        press(driver, *[Keys.TAB] * names.index("Email or username"))
        press(driver, username, Keys.TAB, PASSWORD, Keys.ENTER)
        wait(driver).until(EC.element_to_be_clickable((By.LINK_TEXT, "Upload")))
        shots.take("phone-home")

        # The file comes through the input (no dialog to drive); the rest by keyboard.
        driver.get(served.base_url + "/#/upload")
        heading(driver, "Upload a photo")
        _keyboard_pass(driver, "upload page")
        driver.find_element(By.ID, "photo").send_keys(str(corpus_file("phone-landscape-4608x1976.jpg")))
        driver.find_element(By.ID, "caption").click()
        press(driver, "Wide", Keys.TAB, Keys.ENTER)  # Tab to Upload, press it
        wait(driver, 60).until(EC.text_to_be_present_in_element((By.ID, "upload-stage"), "Published"))
        card = driver.find_element(By.CSS_SELECTOR, ".result article.post")
        post_id = post_id_of(card)
        image = loaded_image(driver, card)
        post = api_get(served, f"/api/v1/posts/{post_id}")
        assert image["src"] in {v["url"] for v in post["variants"].values()}

        driver.get(f"{served.base_url}/#/p/{post_id}")
        wait(driver).until(EC.element_to_be_clickable((By.CSS_SELECTOR, "button.like")))
        loaded_image(driver, driver.find_element(By.CSS_SELECTOR, "article.post"))
        driver.execute_script("window.scrollTo(0, 0)")
        reached = _keyboard_pass(driver, "post page")
        assert "Like" in [r["name"] for r in reached]
        # Space on the focused like button likes the photo.
        like = driver.find_element(By.CSS_SELECTOR, "button.like")
        _from_the_top(driver)
        for _ in range(len(reached)):
            if driver.switch_to.active_element == like:
                break
            press(driver, Keys.TAB)
        press(driver, Keys.SPACE)
        wait(driver).until(lambda d: like.get_attribute("aria-pressed") == "true")
        overflow = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page is {overflow}px wider than a phone's screen"
        shots.take("phone-post")

        driver.get(f"{served.base_url}/#/")
        heading(driver, "Your")
        loaded_image(driver, wait(driver).until(EC.presence_of_element_located((By.CSS_SELECTOR, "article.post"))))
        driver.execute_script("window.scrollTo(0, 0)")
        _keyboard_pass(driver, "home page")
        overflow = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page is {overflow}px wider than a phone's screen"
        shots.take("phone-feed")
    finally:
        driver.set_window_size(1280, 900)


def test_reduced_motion_turns_transitions_off(served: ServerProcess, driver: WebDriver) -> None:
    driver.get(served.base_url + "/")
    wait(driver).until(EC.presence_of_element_located((By.CSS_SELECTOR, "main h1")))
    probe = "const a = document.createElement('div'); a.className = 'frame'; const i = document.createElement('img');" \
            " a.append(i); document.body.append(a); const t = getComputedStyle(i).transitionDuration; a.remove(); return t"
    assert driver.execute_script(probe) != "0s"
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-reduced-motion", "value": "reduce"}]})
    try:
        assert driver.execute_script(probe) == "0s"
    finally:
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})
