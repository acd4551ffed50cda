#!/usr/bin/env bash
# The store-PC part of `deploy/install.sh --system` (run by it, after the packages, venv and models).
#   system.sh CODE_DIR DEST STORE CATALOG HQ
# DEST "" is the machine itself; a folder installs into it as if it were / (CI), with no user
# created and no systemctl. Nothing already configured is overwritten: a second run only checks.
set -euo pipefail
CODE="$1"; DEST="${2:-}"; STORE="${3:-}"; CATALOG="${4:-}"; HQ="${5:-}"
PY="$CODE/.venv/bin/python"
ETC="$DEST/etc/signage"; DATA="$DEST/var/lib/signage"; UNITS="$DEST/etc/systemd/system"
MQ="$DEST/etc/mosquitto"
USER_NAME=signage
REAL=0; [ -z "$DEST" ] && REAL=1
run() {   # a command that changes the machine itself: done for real, only said under --root
  if [ "$REAL" = 1 ]; then "$@"; else echo "   (--root: would run) $*"; fi
}
owned() {  # owner of files the kiosk and sync read or write
  if [ "$REAL" = 1 ]; then chown "$@"; fi
}

STORE="${STORE:-store-001}"; CATALOG="${CATALOG:-demo}"
for id in "$STORE" "$CATALOG"; do
  [[ "$id" =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ ]] || { echo "system.sh: '$id' is not a valid id" >&2; exit 2; }
done

echo "== system: user '$USER_NAME' (camera: group video; the screen and input: render, input)"
GROUPS_OF="video"
for g in render input; do getent group "$g" >/dev/null && GROUPS_OF="$GROUPS_OF,$g"; done
if ! id "$USER_NAME" >/dev/null 2>&1; then
  run useradd --system --home-dir /var/lib/signage --shell /usr/sbin/nologin --groups "$GROUPS_OF" "$USER_NAME"
fi
# The kiosk session (cage on tty1, deploy/systemd/signage-kiosk.service) opens a logind session
# through this PAM service; the store PC then boots to the kiosk (graphical.target), no desktop.
mkdir -p "$DEST/etc/pam.d"
install -m 0644 "$CODE/deploy/pam/signage-kiosk" "$DEST/etc/pam.d/signage-kiosk"

echo "== system: $ETC, $DATA"
mkdir -p "$ETC" "$DATA/catalog" "$UNITS" "$MQ/conf.d"
chmod 0750 "$ETC"
owned "root:$USER_NAME" "$ETC"
owned -R "$USER_NAME:$USER_NAME" "$DATA"

# The one config, from deploy/signage.yaml with the store's paths and ids (kept if it exists:
# retail IT edits it there).
CONF="$ETC/signage.yaml"
if [ ! -f "$CONF" ]; then
  "$PY" - "$CODE" "$CONF" "$DEST" "$STORE" "$CATALOG" <<'PYEOF'
import sys
from pathlib import Path
import yaml
code, conf, dest, store, catalog = sys.argv[1:]
cfg = yaml.safe_load((Path(code) / "deploy" / "signage.yaml").read_text())
def absolute(node):          # relative paths there (the logo, ...) are relative to deploy/
    for k, v in node.items():
        if isinstance(v, dict):
            absolute(v)
        elif isinstance(v, str) and v.startswith(("./", "../")):
            node[k] = str((Path(code) / "deploy" / v).resolve())
absolute(cfg)
cfg["models_dir"] = f"{code}/models"
cfg["catalog_dir"] = f"{dest}/var/lib/signage/catalog"
cfg["model_cache"] = f"{dest}/var/lib/signage/model-cache"
cfg["kiosk"]["source"] = "0"                        # the store PC's camera
cfg["kiosk"]["fullscreen"] = True
cfg["kiosk"]["staff_pin_file"] = f"{dest}/etc/signage/staff-pin"
cfg["sync"].update(catalog_id=catalog, store_id=store, broker_host="127.0.0.1", broker_port=1883,
                   password_file=f"{dest}/etc/signage/broker.password",
                   public_key=f"{dest}/etc/signage/hq-signing.pub")
head = ("# This store's signage config, written by deploy/install.sh --system: this site's choices.\n"
        f"# Every setting in force, with its doc: signage --config {conf} config show\n")
Path(conf).write_text(head + yaml.safe_dump(cfg, sort_keys=False))
PYEOF
  chmod 0640 "$CONF"; owned "root:$USER_NAME" "$CONF"
  echo "   wrote $CONF"
else
  echo "   kept $CONF"
fi
"$CODE/.venv/bin/signage" --config "$CONF" models verify >/dev/null   # the config loads and the models are whole
# Compiled once for this CPU into the config's model_cache, so the kiosk's first start loads them.
"$CODE/.venv/bin/signage" --config "$CONF" models verify --compile | tail -n 1
owned -R "$USER_NAME:$USER_NAME" "$DATA"

# The staff PIN: made once and printed once; only its hash is kept, readable by the kiosk only.
"$CODE/.venv/bin/signage" --config "$CONF" staff-pin set --generate --if-missing
owned "$USER_NAME:$USER_NAME" "$ETC/staff-pin"

# The store's own broker: screens connect to it; with --hq it is bridged to head office.
echo "== system: mosquitto ($MQ)"
PASSFILE="$ETC/broker.password"
if [ ! -f "$PASSFILE" ]; then
  "$PY" -c "import secrets; print(secrets.token_urlsafe(24))" > "$PASSFILE"
  chmod 0640 "$PASSFILE"; owned "root:$USER_NAME" "$PASSFILE"
fi
if [ ! -f "$MQ/signage.passwd" ]; then
  touch "$MQ/signage.passwd"; chmod 0600 "$MQ/signage.passwd"
  mosquitto_passwd -b "$MQ/signage.passwd" "$STORE" "$(cat "$PASSFILE")"
  owned mosquitto:mosquitto "$MQ/signage.passwd" 2>/dev/null || true
fi
install -m 0644 "$CODE/deploy/mosquitto/acl" "$MQ/signage.acl"
BROKER_CONF="$MQ/conf.d/signage-store.conf"
if [ ! -f "$BROKER_CONF" ]; then
  {
    echo "# Written by deploy/install.sh --system for store $STORE (template: deploy/mosquitto/store-bridge.conf)."
    # the local part: paths as installed, and the bridge only when head office's address is known.
    # Debian's /etc/mosquitto/mosquitto.conf sets persistence and includes conf.d: a second
    # persistence_location there is an error, so those lines stay out.
    sed -n '/^connection /q;p' "$CODE/deploy/mosquitto/store-bridge.conf" \
      | sed -e "s#/etc/mosquitto/#$MQ/#g" | grep -v -e '^#' -e '^persistence'
    if [ -n "$HQ" ]; then
      sed -n '/^connection /,$p' "$CODE/deploy/mosquitto/store-bridge.conf" \
        | sed -e "s#^address .*#address ${HQ//,/ }#" -e "s#STORE_ID#$STORE#g" -e "s#CATALOG#$CATALOG#g" \
              -e "s#/etc/mosquitto/#$MQ/#g"
    else
      echo "# no --hq given: a local broker only. Bridge to head office: re-run install.sh --system --hq HOST:PORT[,STANDBY:PORT]"
      echo "# after removing this file (deploy/mosquitto/store-bridge.conf shows the bridge)."
    fi
  } > "$BROKER_CONF"
  echo "   wrote $BROKER_CONF"
else
  echo "   kept $BROKER_CONF"
fi
if [ -n "$HQ" ] && grep -q STORE_PASSWORD "$BROKER_CONF"; then
  echo "   NOTE: set this store's password at head office in $BROKER_CONF (remote_password), and put"
  echo "         ca.crt, $STORE.crt, $STORE.key from \`signage certs\` in $MQ/certs/"
fi

# The units, pointing at this code and these paths.
echo "== system: systemd units ($UNITS)"
for unit in "$CODE"/deploy/systemd/*.service; do
  sed -e "s#/opt/signage#$CODE#g" -e "s#/etc/signage#$ETC#g" -e "s#/var/lib/signage#$DATA#g" "$unit" \
    > "$UNITS/$(basename "$unit")"
done
if [ "$REAL" = 1 ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  systemctl set-default graphical.target
  systemctl enable --now mosquitto.service signage-sync.service signage-kiosk.service
  echo "== started: mosquitto, signage-sync, signage-kiosk (journalctl -u signage-kiosk)"
else
  echo "   (no systemd running here: enable with systemctl enable --now mosquitto signage-sync signage-kiosk)"
fi
if [ ! -f "$ETC/hq-signing.pub" ]; then
  echo "   NOTE: copy head office's public signing key to $ETC/hq-signing.pub (signage-sync waits for it)"
fi
