set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=$(realpath target/local/crateyard)
WORK=$(mktemp -d); chmod 755 $WORK
trap 'kill $(jobs -p) 2>/dev/null; [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")"; rm -rf $WORK' EXIT
taskset -c 0 "$BIN" serve --data "$WORK/data" --addr "127.0.0.1:18080" >/dev/null 2>&1 &
sleep 1
mkdir -p $WORK/data/objects/main/index/be/nc
head -c 16550 /dev/urandom | base64 | head -c 16550 > $WORK/x
TOKEN=$("$BIN" token create --data "$WORK/data" --user bench)
cat > "$WORK/nginx.conf" <<NGINX
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 1024; }
http { access_log off; default_type text/plain;
  server { listen 127.0.0.1:18081; root $WORK/data/objects; etag on; } }
NGINX
taskset -c 0 nginx -c "$WORK/nginx.conf"
cp $WORK/x $WORK/data/objects/main/index/be/nc/benchcrate
sleep 0.5
for port in 18080 18081; do
  curl -s -o /dev/null -w "%{http_code}\n" http://127.0.0.1:$port/main/index/be/nc/benchcrate
  ETAG=$(curl -sI "http://127.0.0.1:$port/main/index/be/nc/benchcrate" | awk -F': ' 'tolower($1)=="etag"{print $2}' | tr -d '\r')
  for h in "" "If-None-Match: $ETAG"; do
    (sleep 1; mpstat -P 0,1 2 1 | grep Average) &
    if [ -n "$h" ]; then taskset -c 1 wrk -t1 -c32 -d4s -H "$h" http://127.0.0.1:$port/main/index/be/nc/benchcrate | grep Req; else taskset -c 1 wrk -t1 -c32 -d4s http://127.0.0.1:$port/main/index/be/nc/benchcrate | grep Req; fi
    wait %3 2>/dev/null || true
  done
done
