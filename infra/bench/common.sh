# Sourced by the benchmark scripts: ports nobody holds, and the machine's
# state to print beside the figures (a figure without its load is not one).

# A TCP port on 127.0.0.1 that was free a moment ago (the kernel's pick).
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# "N cores, load average A B C".
machine_load() {
  printf '%s cores, load average %s' "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
}
