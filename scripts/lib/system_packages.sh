# Sourced by scripts/test: the Debian packages the suite needs besides Python, each with what
# shows it is there. As root with apt-get they are installed; otherwise the script stops with
# the exact command to run.
#   postgresql         pg_ctl/initdb: the second database engine the suite runs on
#   poppler-utils      pdfsig, pdffonts, pdftoppm: a verifier's view of the signed PDFs
#   libnss3-tools      certutil: makes pdfsig trust the city root
#   chromium           the headless browser the web pages are tested in
#   libatomic1         needed by the Node.js runtime that Playwright (the browser's driver) bundles
#   fonts-wqy-microhei a Chinese font for the browser, so pages are measured as a phone shows them

_system_package_present() {  # _system_package_present PACKAGE
  case $1 in
    postgresql) command -v pg_ctl >/dev/null || compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' >/dev/null ;;
    poppler-utils) command -v pdfsig >/dev/null && command -v pdftoppm >/dev/null ;;
    libnss3-tools) command -v certutil >/dev/null ;;
    chromium) command -v chromium >/dev/null || command -v chromium-browser >/dev/null ;;
    libatomic1) PATH=$PATH:/sbin:/usr/sbin ldconfig -p | grep -q 'libatomic\.so\.1 ' ;;
    fonts-wqy-microhei) [ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] ;;
  esac
}

_missing_system_packages() {
  local p
  for p in postgresql poppler-utils libnss3-tools chromium libatomic1 fonts-wqy-microhei; do
    _system_package_present "$p" || echo "$p"
  done
}

ensure_system_packages() {
  local missing
  missing=$(_missing_system_packages | tr '\n' ' ')
  missing=${missing% }
  [ -z "$missing" ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installing the Debian packages the suite needs: $missing" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
    missing=$(_missing_system_packages | tr '\n' ' ')
    missing=${missing% }
    [ -z "$missing" ] && return 0
    echo "Still missing after apt-get install: $missing" >&2
    return 1
  fi
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo "
  {
    echo "The suite needs these Debian packages, which are not installed: $missing"
    echo "Install them, then run scripts/test again:"
    echo
    echo "  ${sudo}apt-get update && ${sudo}apt-get install -y --no-install-recommends $missing"
  } >&2
  return 1
}
