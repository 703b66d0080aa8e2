set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=$(realpath target/local/crateyard)
WORK=$(mktemp -d); chmod 755 $WORK
trap 'kill $(jobs -p) 2>/dev/null; [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")"; rm -rf $WORK' EXIT
taskset -c 0 "$BIN" serve --data "$WORK/data" --addr "127.0.0.1:18080" >/dev/null 2>&1 &
sleep 1
mkdir -p $WORK/data/objects/main/index/be/nc
head -c 16550 /dev/urandom | base64 | head -c 16550 > $WORK/x
cat > "$WORK/nginx.conf" <<NGINX
worker_processes 1;
master_process off;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 1024; }
http { access_log off; default_type text/plain;
  server { listen 127.0.0.1:18081; root $WORK/data/objects; etag on; } }
NGINX
taskset -c 0 nginx -c "$WORK/nginx.conf" &
cp $WORK/x $WORK/data/objects/main/index/be/nc/benchcrate
sleep 0.5
CYPID=$(pgrep -f "serve --data $WORK/data"); NGPID=$(pgrep -f "nginx -c $WORK/nginx.conf")
for port in 18080 18081; do
  pid=$CYPID; [ $port = 18081 ] && pid=$NGPID
  ETAG=$(curl -sI "http://127.0.0.1:$port/main/index/be/nc/benchcrate" | awk -F': ' 'tolower($1)=="etag"{print $2}' | tr -d '\r')
  curl -sI -H "If-None-Match: $ETAG" "http://127.0.0.1:$port/main/index/be/nc/benchcrate"
  curl -sI "http://127.0.0.1:$port/main/index/be/nc/benchcrate"
  for h in "X-A: b" "If-None-Match: $ETAG"; do
    timeout 3 strace -c -f -p $pid -o $WORK/st 2>/dev/null &
    sleep 0.5
    out=$(taskset -c 1 wrk -t1 -c32 -d1s -H "$h" http://127.0.0.1:$port/main/index/be/nc/benchcrate)
    echo "$out" | grep -E "requests in"
    wait %2 2>/dev/null || sleep 2; sleep 0.5
    head -14 $WORK/st
  done
done
