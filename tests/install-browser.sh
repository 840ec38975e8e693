#!/bin/sh
# Installs Debian's Chromium for tests/test_report_browser.py when it is missing and this
# machine can (root or password-less sudo, apt-get). Never fails: without Chromium the
# browser test is skipped with the reason, and everything else runs.
command -v chromium >/dev/null 2>&1 && exit 0
command -v apt-get >/dev/null 2>&1 || { echo "install-browser: no apt-get; the browser test will be skipped"; exit 0; }
if [ "$(id -u)" = 0 ]; then as_root=""; elif sudo -n true 2>/dev/null; then as_root="sudo -n"; else
    echo "install-browser: not root; the browser test will be skipped (apt-get install chromium)"; exit 0
fi
echo "install-browser: installing Debian's chromium for the report's browser test"
$as_root apt-get install -y -qq chromium >/dev/null 2>&1 \
    || { $as_root apt-get update -qq >/dev/null 2>&1 && $as_root apt-get install -y -qq chromium >/dev/null 2>&1; } \
    || echo "install-browser: apt-get failed; the browser test will be skipped"
exit 0
