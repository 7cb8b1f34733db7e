"""What a person does in the web app, as Selenium steps: fill a form, log in, tab through a page.
And two checks of the page itself: the keyboard pass and a loaded image."""

from __future__ import annotations

from typing import Any

from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from serverproc import ServerProcess
from webapp_api import PASSWORD

FOCUSABLE = "a[href], button, input, textarea, select, summary, [tabindex]:not([tabindex='-1'])"


def wait(driver: WebDriver, seconds: float = 15) -> WebDriverWait:
    # The app redraws its navigation when a login starts and again when it knows the server's
    # features: an element found a moment ago may be gone, so a stale one means "look again".
    return WebDriverWait(driver, seconds, ignored_exceptions=(StaleElementReferenceException,))


def heading(driver: WebDriver, text: str) -> WebElement:
    """The view's heading, once it says ``text``."""
    wait(driver).until(EC.text_to_be_present_in_element((By.TAG_NAME, "h1"), text))
    return driver.find_element(By.TAG_NAME, "h1")


def fill(driver: WebDriver, values: dict[str, str]) -> None:
    for element_id, value in values.items():
        field = driver.find_element(By.ID, element_id)
        field.clear()
        field.send_keys(value)


def submit(driver: WebDriver, form: str = "main") -> None:
    driver.find_element(By.CSS_SELECTOR, f"{form} button[type=submit]").click()


def press(driver: WebDriver, *keys: str) -> None:
    """Keys as the keyboard sends them, to whatever has the focus (a file input takes no typed text)."""
    ActionChains(driver).send_keys(*keys).perform()


def run_module(driver: WebDriver, module: str, body: str) -> Any:
    """Runs the async ``body`` with the app's own module ``js/{module}`` (the instance the page
    uses) imported as ``m``; what it returns comes back."""
    return driver.execute_async_script(f"""
        const done = arguments[arguments.length - 1];
        const base = document.querySelector('script[type=module]').src.replace(/js\\/main\\.js$/, '');
        import(base + 'js/{module}').then(async (m) => {{ {body} }}).then(done, (e) => done('error: ' + e));
    """)


def follow_mailed_link(driver: WebDriver, link: str, username: str, password: str = PASSWORD) -> str:
    """Opens the link as the reader of the mail would; a page with a form gets what it asks for
    (its username and password fields) and is sent. The page's text afterwards."""
    driver.get(link)
    forms = driver.find_elements(By.TAG_NAME, "form")
    if forms:
        form = forms[0]
        for name, value in (("username", username), ("login", username), ("password", password)):
            for field in form.find_elements(By.NAME, name):
                field.send_keys(value)
        driver.execute_script("window.beforeSubmit = true")
        form.find_element(By.CSS_SELECTOR, "button[type=submit], input[type=submit], button:not([type])").click()
        # The answer is a new document (it lacks the mark); asking while it loads may fail: ask again.
        WebDriverWait(driver, 15, ignored_exceptions=(WebDriverException,)).until(
            lambda d: d.execute_script("return document.readyState === 'complete' && !window.beforeSubmit"))
    return driver.find_element(By.TAG_NAME, "body").text


def follow_mailed_link_aside(driver: WebDriver, link: str, username: str) -> str:
    """The same in a tab of its own, leaving the app's tab (and its login) as it was."""
    app = driver.current_window_handle
    driver.switch_to.new_window("tab")
    try:
        return follow_mailed_link(driver, link, username)
    finally:
        driver.close()
        driver.switch_to.window(app)


def sign_up_in_app(driver: WebDriver, server: ServerProcess, username: str) -> None:
    driver.get(server.base_url + "/#/signup")
    heading(driver, "Create an account")
    fill(driver, {"email": f"{username}@example.org", "username": username, "password": PASSWORD})
    submit(driver)
    heading(driver, "Check your mail")


def log_in_in_app(driver: WebDriver, server: ServerProcess, username: str, password: str = PASSWORD) -> None:
    driver.get(server.base_url + "/#/login")
    heading(driver, "Log in")
    fill(driver, {"login": username, "password": password})
    submit(driver)
    wait(driver).until(EC.element_to_be_clickable((By.LINK_TEXT, "Upload")))


def log_out_in_app(driver: WebDriver, server: ServerProcess) -> None:
    """Logs out through the navigation's button if someone is logged in; then the guest's links show."""
    driver.get(server.base_url + "/")

    def logged_out(d: WebDriver) -> bool:
        for button in d.find_elements(By.XPATH, "//nav//button[normalize-space()='Log out']"):
            button.click()  # stale if the navigation was redrawn meanwhile: the wait looks again
        return bool(d.find_elements(By.XPATH, "//nav//a[normalize-space()='Log in']"))

    wait(driver).until(logged_out)


def loaded_image(driver: WebDriver, card: WebElement) -> dict[str, Any]:
    """Scrolls the card's photo into view and waits until it has loaded: what the browser chose."""
    img = card.find_element(By.CSS_SELECTOR, ".frame img")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", img)
    wait(driver, 30).until(lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", img))
    return driver.execute_script(
        "const i = arguments[0]; return {src: i.currentSrc, natural: i.naturalWidth, shown: i.getBoundingClientRect().width}",
        img)


def page_overflow(driver: WebDriver) -> int:
    """How many CSS pixels the page is wider than the window (0 or less: no sideways scrolling)."""
    return driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")


# -- keyboard --------------------------------------------------------------------------------------


def from_the_top(driver: WebDriver) -> None:
    """Focus on the page's first control (the skip link), as after a page load and one Tab."""
    driver.execute_script("window.scrollTo(0, 0); document.querySelector('.skip-link').focus()")


def tab_through(driver: WebDriver, limit: int = 80) -> list[dict[str, Any]]:
    """Presses Tab from the top of the page until the focus comes round again: what got it, in order."""
    from_the_top(driver)
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
            "key": key, "tag": element.tag_name, "name": element.accessible_name.strip(), "step": step,
            "outline": driver.execute_script(
                "const s = getComputedStyle(arguments[0]); return s.outlineStyle + ' ' + s.outlineWidth", element),
        })
    return reached


def controls(driver: WebDriver) -> list[WebElement]:
    """Every control a mouse user could reach: visible and focusable."""
    return [e for e in driver.find_elements(By.CSS_SELECTOR, FOCUSABLE)
            if e.is_displayed() and e.is_enabled() and not e.get_attribute("disabled")]


def keyboard_pass(driver: WebDriver, where: str) -> list[dict[str, Any]]:
    """Tab reaches every control, each has an accessible name (form fields: a label), and the
    focus is always visible. What Tab reached, in order."""
    reached = tab_through(driver)
    keys = {r["key"] for r in reached}
    for control in controls(driver):
        described = control.get_attribute("outerHTML")[:120]
        assert control.get_attribute("data-tab-seen") in keys, f"{where}: Tab never reaches {described}"
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


def tab_to(driver: WebDriver, element: WebElement, limit: int = 80) -> None:
    """Moves the focus to ``element`` with Tab alone, from the top of the page."""
    from_the_top(driver)
    for _ in range(limit):
        if driver.switch_to.active_element == element:
            return
        press(driver, Keys.TAB)
    raise AssertionError(f"Tab never reaches {element.get_attribute('outerHTML')[:120]}")
