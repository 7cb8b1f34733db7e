"""The web app in a real browser: headless Chromium against a real ``serve`` process on loopback.

One account goes the whole way a person would: sign up in the app, follow the mailed link, log in,
upload a corpus photo (with a progress bar fed by the real upload), see it published and loaded at
a variant's URL, like it, comment on it. Another follows someone, scrolls the feed past its first
page and sees notifications arrive live. Another pass uses the keyboard alone on a phone-size
screen. Screenshots are test artefacts: their paths are printed, and they are kept under
``test-output/webapp/``. The browser's console must stay free of errors (a broken module or a
Content-Security-Policy violation shows up there).
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import uuid
from pathlib import Path
from typing import Iterator

import blurhash
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as EC

import webapp_browser
from conftest import corpus_file
from serverproc import ServerProcess, free_port, server_env
from webapp_api import PASSWORD, call, log_in, mailed_link, refusal, register, upload, wait_published
from webapp_pages import (
    fill, follow_mailed_link, follow_mailed_link_aside, heading, keyboard_pass, loaded_image, log_in_in_app,
    log_out_in_app, page_overflow, press, run_module, sign_up_in_app, submit, tab_to, wait,
)

PHOTO = "phone-3264x2448.jpg"
SMALL_PHOTO = "camera-with-gps.jpg"
FEED_PAGE = 10  # the app's page size for the feed
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


def new_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


# -- the whole way ------------------------------------------------------------------------------


def test_sign_up_verify_log_in_upload_see_it_like_and_comment(
    served: ServerProcess, driver: WebDriver, shots: webapp_browser.Screenshots, console_allows: list[tuple[str, str]]
) -> None:
    console_allows.append(("/api/v1/auth/login", "403"))  # logging in before the address is confirmed
    username = new_name("ada")
    log_out_in_app(driver, served)
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
    submit(driver)
    shown = wait(driver).until(EC.visibility_of_element_located((By.CSS_SELECTOR, "main .form-error"))).text
    refused = refusal(served, "POST", "/api/v1/auth/login", {"login": username, "password": PASSWORD})
    assert refused["code"] == "email_not_verified"
    assert shown.lower().rstrip(".") == refused["message"].lower().rstrip("."), (shown, refused)
    shots.take("login-refused-until-verified")

    outcome = follow_mailed_link(driver, mailed_link(served, f"{username}@example.org"), username)
    assert '"email_verified": true' in outcome or "confirmed" in outcome.lower(), outcome
    shots.take("mailed-link-followed")

    log_in_in_app(driver, served, username)
    # Once the access token is due for refresh, calls made together share one refresh: a second
    # refresh with the same (rotating, single-use) token would be taken as theft and end the login.
    answers = run_module(driver, "api.js", """
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
    # Processing is followed live: the stream's post_published news, not the next poll, shows the post.
    wait(driver).until(lambda d: run_module(d, "live.js", "return m.isLive()") is True)
    run_module(driver, "live.js", """
        window.liveSeen = [];
        m.onLive((n) => window.liveSeen.push({kind: n.kind, post: n.post_id, at: performance.now()}));
        const stage = document.getElementById('upload-stage');
        new MutationObserver(() => {
          if (stage.textContent.startsWith('Published') && !window.publishedAt) window.publishedAt = performance.now();
        }).observe(stage, {childList: true, characterData: true, subtree: true});""")
    driver.find_element(By.ID, "photo").send_keys(str(corpus_file(PHOTO)))
    fill(driver, {"caption": "First light over the harbour"})
    submit(driver, ".upload-form")
    wait(driver, 20).until(EC.text_to_be_present_in_element((By.ID, "upload-stage"), "Uploading"))
    shots.take("uploading")
    wait(driver, 60).until(EC.text_to_be_present_in_element((By.ID, "upload-stage"), "Published"))
    driver.delete_network_conditions()
    seen = driver.execute_script("return window.progressSeen")
    assert seen and max(seen) == 100, seen
    assert any(0 < value < 100 for value in seen), f"the bar never showed the upload under way: {seen}"

    card = driver.find_element(By.CSS_SELECTOR, ".result article.post")
    post_id = card.get_attribute("data-post-id")
    news = driver.execute_script("return window.liveSeen")
    published = [n["at"] for n in news if n["kind"] == "post_published" and n["post"] == post_id]
    assert published, news
    # Woken by the news, the page asks once more and shows the post; a poll would come 15 s later.
    assert driver.execute_script("return window.publishedAt") - published[0] < 5000, news
    image = loaded_image(driver, card)
    post = call(served, "GET", f"/api/v1/posts/{post_id}")
    assert post["status"] == "published" and post["caption"] == "First light over the harbour"
    assert image["src"] in {v["url"] for v in post["variants"].values()}, image
    assert image["natural"] > 0
    # The browser picked by width: the 600 px column gets the medium variant, not the 3264 px original.
    assert image["src"] == post["variants"]["medium"]["url"], image
    # Under the photo, the placeholder: the post's BlurHash, painted 32 x 32 and stretched.
    canvas = card.find_element(By.CSS_SELECTOR, "canvas.placeholder")
    painted = driver.execute_script(
        "const c = arguments[0]; return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)", canvas)
    want = blurhash.decode(post["placeholder"], 32, 32).convert("RGBA").tobytes()
    assert len(painted) == len(want) and max(abs(a - b) for a, b in zip(painted, want)) <= 2
    assert canvas.is_displayed() and canvas.size["width"] == image["shown"]
    shots.take("published")

    driver.get(f"{served.base_url}/#/p/{post_id}")
    like = wait(driver).until(EC.element_to_be_clickable((By.CSS_SELECTOR, "button.like")))
    assert like.get_attribute("aria-pressed") == "false"
    like.click()
    wait(driver).until(lambda d: like.get_attribute("aria-pressed") == "true")
    assert driver.find_element(By.CSS_SELECTOR, ".actions .count").text == "1 like"
    assert call(served, "GET", f"/api/v1/posts/{post_id}")["like_count"] == 1

    fill(driver, {"comment-body": "The colours!\nLike a painting."})
    submit(driver, ".comment-form")
    wait(driver).until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, "ol.comments"), "Like a painting."))
    assert driver.find_element(By.ID, "comments-heading").text == "1 comment"
    comments = call(served, "GET", f"/api/v1/posts/{post_id}/comments")["items"]
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


# -- following, the feed, notifications ------------------------------------------------------------


def unread_badge(driver: WebDriver) -> int:
    """The count the navigation shows (0 when no badge is shown), read in one step: it changes live."""
    return driver.execute_script(
        "const b = document.querySelector('#nav .badge'); return b && !b.hidden ? parseInt(b.textContent, 10) : 0")


def test_follow_scroll_the_feed_and_see_notifications_arrive_live(
    served: ServerProcess, driver: WebDriver, shots: webapp_browser.Screenshots
) -> None:
    ada, bob = new_name("ada"), new_name("bob")
    log_out_in_app(driver, served)
    for name in (ada, bob):
        follow_mailed_link_aside(driver, mailed_link(served, register(served, name)), name)
    bob_token, ada_token = log_in(served, bob), log_in(served, ada)
    small = corpus_file(SMALL_PHOTO)
    bobs = [upload(served, bob_token, small, f"Bob's photo {i}") for i in range(FEED_PAGE + 2)]
    adas = upload(served, ada_token, small, "Ada's own")
    wait_published(served, bobs + [adas])

    log_in_in_app(driver, served, ada)
    driver.get(f"{served.base_url}/#/u/{bob}")
    heading(driver, f"@{bob}")
    follow = wait(driver).until(EC.element_to_be_clickable((By.XPATH, f"//button[normalize-space()='Follow @{bob}']")))
    follow.click()
    wait(driver).until(lambda d: follow.text == f"Unfollow @{bob}")
    assert "1 follower " in driver.find_element(By.CSS_SELECTOR, ".counts").text + " "
    assert call(served, "GET", f"/api/v1/users/{bob}")["followers_count"] == 1

    # The feed: one page first, the next when its end comes into view, in the API's order.
    # Her own profile: edit it; the API and the page agree afterwards.
    driver.find_element(By.LINK_TEXT, "Profile").click()
    heading(driver, f"@{ada}")
    driver.find_element(By.XPATH, "//summary[normalize-space()='Edit profile']").click()
    fill(driver, {"display_name": "Ada L.", "bio": "Photos of harbours.\nMostly at dawn."})
    submit(driver, ".edit-profile")
    heading(driver, "Ada L.")
    assert "Mostly at dawn." in driver.find_element(By.CSS_SELECTOR, ".bio").text
    me = call(served, "GET", f"/api/v1/users/{ada}")
    assert (me["display_name"], me["bio"]) == ("Ada L.", "Photos of harbours.\nMostly at dawn.")

    driver.find_element(By.LINK_TEXT, "Home").click()
    heading(driver, "Your feed")
    cards = lambda d: d.find_elements(By.CSS_SELECTOR, ".feed article.post")  # noqa: E731
    wait(driver).until(lambda d: len(cards(d)) == FEED_PAGE)
    driver.execute_script("window.scrollTo(0, document.body.scrollHeight)")
    wait(driver).until(lambda d: len(cards(d)) == len(bobs) + 1)
    shown = [c.get_attribute("data-post-id") for c in cards(driver)]
    expected = [item["id"] for item in call(served, "GET", "/api/v1/feed?limit=100", token=ada_token)["items"]]
    assert shown == expected and set(shown) == set(bobs + [adas])
    assert not driver.find_element(By.CSS_SELECTOR, ".feed ~ .more, .pager .more").is_displayed()
    shots.take("feed-second-page")

    # News arrives through the stream, without a reload: the badge counts it.
    wait(driver).until(lambda d: run_module(d, "live.js", "return m.isLive()") is True)
    before = unread_badge(driver)
    call(served, "PUT", f"/api/v1/posts/{adas}/like", token=bob_token)
    wait(driver).until(lambda d: unread_badge(d) == before + 1)
    call(served, "POST", f"/api/v1/posts/{adas}/comments", {"body": "Lovely!"}, token=bob_token)
    wait(driver).until(lambda d: unread_badge(d) == before + 2)
    driver.execute_script("window.scrollTo(0, 0)")
    shots.take("unread-badge-live")

    driver.find_element(By.PARTIAL_LINK_TEXT, "Notifications").click()
    heading(driver, "Notifications")
    listed = (By.CSS_SELECTOR, "ol.notifications")
    for text in (f"@{bob} liked your photo", f"@{bob} commented on your photo", "Your photo is published"):
        wait(driver).until(EC.text_to_be_present_in_element(listed, text))
    shots.take("notifications")
    driver.find_element(By.XPATH, "//button[normalize-space()='Mark all as read']").click()
    wait(driver).until(lambda d: unread_badge(d) == 0 and not d.find_elements(By.CSS_SELECTOR, ".notification.unread"))
    assert call(served, "GET", "/api/v1/notifications?limit=1", token=ada_token)["unread_count"] == 0


def test_a_forgotten_password_is_reset_through_the_mailed_link(
    served: ServerProcess, driver: WebDriver, shots: webapp_browser.Screenshots
) -> None:
    name, new_password = new_name("max"), "a whole new passphrase, 42 times"
    log_out_in_app(driver, served)
    follow_mailed_link_aside(driver, mailed_link(served, register(served, name)), name)
    driver.get(served.base_url + "/#/login")
    heading(driver, "Log in")
    driver.find_element(By.LINK_TEXT, "Forgot your password?").click()
    heading(driver, "Forgot your password?")
    fill(driver, {"reset-email": f"{name}@example.org"})
    submit(driver)
    sent = wait(driver).until(EC.visibility_of_element_located((By.CSS_SELECTOR, "main [role=status]")))
    assert "on its way" in sent.text and str(served.data_dir / "outbox") in sent.text
    shots.take("reset-requested")
    follow_mailed_link(driver, mailed_link(served, f"{name}@example.org", containing="reset"), name, new_password)
    log_in_in_app(driver, served, name, new_password)


# -- the page's own code against references ------------------------------------------------------


def test_blurhash_and_sha256_match_the_reference_implementations(served: ServerProcess, driver: WebDriver) -> None:
    driver.get(served.base_url + "/")
    wait(driver).until(EC.presence_of_element_located((By.CSS_SELECTOR, "main h1")))
    for hash_ in ("LXIq$K?HW,btNEjcNFIU0cNGV]WB", "LEHV6nWB2yk8pyo0adR*.7kCMdnj",
                  "|rF?hV%2WCj[ayj[a|j[az_NaeWBj@ayfRayfQfQM{M|azj[azf6fQfQfQIpWXofj[ayj[j[fQayWCoeoeaya}j[ayfQa{oLj?j"
                  "[WVj[ayayj[fQoff7azayj[ayj[j[ayofayayayj[fQj[ayayj[ayfjj[j[ayjuayj["):
        got = run_module(driver, "blurhash.js", f"return Array.from(m.decode({json.dumps(hash_)}, 12, 8))")
        assert not isinstance(got, str), got
        want = list(blurhash.decode(hash_, 12, 8).convert("RGBA").tobytes())  # reference: the C decoder
        assert len(got) == len(want)
        worst = max(abs(a - b) for a, b in zip(got, want))
        assert worst <= 2, f"{hash_}: pixels differ by up to {worst}"

    cases = [b"", b"abc", bytes(range(256)) * 3] + [b"x" * n for n in (55, 56, 63, 64, 65, 119, 120)]
    encoded = json.dumps([base64.b64encode(c).decode() for c in cases])
    got = run_module(driver, "sha256.js",
                     f"return {encoded}.map((b) => m.sha256Plain(Uint8Array.from(atob(b), (c) => c.charCodeAt(0))))")
    assert got == [hashlib.sha256(c).hexdigest() for c in cases]


# -- keyboard only, on a phone ---------------------------------------------------------------------


def test_keyboard_only_on_a_phone_size_screen(
    served: ServerProcess, driver: WebDriver, shots: webapp_browser.Screenshots
) -> None:
    username = new_name("kim")
    driver.set_window_size(390, 844)  # a phone
    try:
        log_out_in_app(driver, served)  # an earlier test's login, if any
        sign_up_in_app(driver, served, username)
        follow_mailed_link(driver, mailed_link(served, f"{username}@example.org"), username)

        # The upload page asks a guest to log in first, then shows itself. With the keyboard alone:
        # Tab to each field, type, Enter.
        driver.get(served.base_url + "/#/upload")
        heading(driver, "Log in")
        names = [r["name"] for r in keyboard_pass(driver, "login page")]
        assert names.index("Email or username") < names.index("Password") < names.index("Log in", names.index("Password"))
        tab_to(driver, driver.find_element(By.ID, "login"))
        press(driver, username, Keys.TAB, PASSWORD, Keys.ENTER)
        heading(driver, "Upload a photo")
        shots.take("phone-upload")

        # The file comes through the input (no dialog to drive); the rest by keyboard.
        keyboard_pass(driver, "upload page")
        driver.find_element(By.ID, "photo").send_keys(str(corpus_file("phone-landscape-4608x1976.jpg")))
        tab_to(driver, driver.find_element(By.ID, "caption"))
        press(driver, "Wide", Keys.TAB, Keys.ENTER)  # Tab to Upload, press it
        wait(driver, 60).until(EC.text_to_be_present_in_element((By.ID, "upload-stage"), "Published"))
        card = driver.find_element(By.CSS_SELECTOR, ".result article.post")
        post_id = card.get_attribute("data-post-id")
        image = loaded_image(driver, card)
        assert image["src"] in {v["url"] for v in call(served, "GET", f"/api/v1/posts/{post_id}")["variants"].values()}

        driver.get(f"{served.base_url}/#/p/{post_id}")
        like = wait(driver).until(EC.element_to_be_clickable((By.CSS_SELECTOR, "button.like")))
        loaded_image(driver, driver.find_element(By.CSS_SELECTOR, "article.post"))
        assert "Like" in [r["name"] for r in keyboard_pass(driver, "post page")]
        tab_to(driver, like)
        press(driver, Keys.SPACE)  # Space on the focused like button likes the photo
        wait(driver).until(lambda d: like.get_attribute("aria-pressed") == "true")
        assert page_overflow(driver) <= 0, "the post page is wider than a phone's screen"
        shots.take("phone-post")

        driver.get(f"{served.base_url}/#/")
        heading(driver, "Your")
        loaded_image(driver, wait(driver).until(EC.presence_of_element_located((By.CSS_SELECTOR, "article.post"))))
        keyboard_pass(driver, "home page")
        assert page_overflow(driver) <= 0, "the feed is wider than a phone's screen"
        driver.execute_script("window.scrollTo(0, 0)")
        shots.take("phone-feed")
    finally:
        driver.set_window_size(1280, 900)


def test_reduced_motion_turns_transitions_off(served: ServerProcess, driver: WebDriver) -> None:
    driver.get(served.base_url + "/")
    wait(driver).until(EC.presence_of_element_located((By.CSS_SELECTOR, "main h1")))
    probe = ("const a = document.createElement('div'); a.className = 'frame'; const i = document.createElement('img');"
             " a.append(i); document.body.append(a); const t = getComputedStyle(i).transitionDuration; a.remove(); return t")
    assert driver.execute_script(probe) != "0s"
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-reduced-motion", "value": "reduce"}]})
    try:
        assert driver.execute_script(probe) == "0s"
    finally:
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})
