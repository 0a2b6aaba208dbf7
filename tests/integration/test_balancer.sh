# nginx as raptor's balancer sees it, against a real nginx on 127.0.0.1
# (tests/sandbox/nginx.sh) and two tiny HTTP backends: pool files in
# raptor.d in the format balancer_apply writes, the test and reload commands
# nginx.sh prints, sites that serve pools, a failed test that changes nothing
# nginx serves, and a clean shutdown. balancer_apply itself is covered by
# tests/unit/test_balancer.c, and end to end by test_apply.sh.

bl_sh="$REPO_ROOT/tests/sandbox/nginx.sh"
cd "$SCRATCH" || return 1 # the previous test file may have left us in a removed directory
bl_root="$SCRATCH/nginx"
bl_py=python3
[ -x /usr/bin/python3 ] && bl_py=/usr/bin/python3
bl_backends=() # PIDs of the HTTP backends, stopped by PID at the end

bl_cleanup() {
	local p
	for p in "${bl_backends[@]+"${bl_backends[@]}"}"; do
		kill -TERM "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	bl_backends=()
	bash "$bl_sh" down "$bl_root" >/dev/null 2>&1
	bash "$bl_sh" down "$SCRATCH/nginx2" >/dev/null 2>&1
}
bl_old_trap=$(trap -p EXIT)
trap 'bl_cleanup' EXIT

bl_free_port() {
	"$bl_py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

bl_get() { curl -s --noproxy '*' --max-time 5 "http://127.0.0.1:$bl_port$1"; }

# bl_backend NAME: an HTTP server on a free port answering "backend NAME" at /
# and "api NAME" at /api/; sets bl_backend_port and bl_backend_pid
bl_backend() {
	local dir=$SCRATCH/backend$1
	mkdir -p "$dir/api"
	echo "backend $1" >"$dir/index.html"
	echo "api $1" >"$dir/api/index.html"
	bl_backend_port=$(bl_free_port)
	"$bl_py" -m http.server "$bl_backend_port" --bind 127.0.0.1 --directory "$dir" \
		>"$SCRATCH/backend$1.log" 2>&1 &
	bl_backend_pid=$!
	bl_backends+=("$bl_backend_pid")
	for _ in $(seq 1 50); do
		[ "$(curl -s --noproxy '*' --max-time 1 "http://127.0.0.1:$bl_backend_port/")" = "backend $1" ] && return 0
		sleep 0.1
	done
	return 1
}

# bl_pool NAME ADDR:PORT...: the pool file as balancer_apply writes it
bl_pool() {
	local name=$1 n
	shift
	{
		echo "upstream $name {"
		for n in "$@"; do echo "    server $n;"; done
		echo "}"
	} >"$bl_root/raptor.d/.raptor-$name.tmp" && mv -f "$bl_root/raptor.d/.raptor-$name.tmp" "$bl_root/raptor.d/$name.conf"
}

bl_gone() { # PID is not running (a zombie counts as gone)
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	s=${s##*) }
	[ "${s%% *}" = Z ]
}

if bl_backend A; then bl_a=$bl_backend_port; pass "backend A answers"; else fail "backend A does not answer" "$(cat "$SCRATCH/backendA.log")"; fi
if bl_backend B; then bl_b=$bl_backend_port bl_b_pid=$bl_backend_pid; pass "backend B answers"; else fail "backend B does not answer" "$(cat "$SCRATCH/backendB.log")"; fi

# --- up ---------------------------------------------------------------------
run bash "$bl_sh" up "$bl_root"
expect_rc "nginx.sh up" 0
bl_port=$out
[[ "$bl_port" =~ ^[0-9]+$ ]] && pass "up prints the port" || fail "up prints the port"
[ "$(cat "$bl_root/port" 2>/dev/null)" = "$bl_port" ] && pass "the port is in ROOT/port" || fail "ROOT/port"
expect_in "up shows the test command" "$err" "-t -q -c $bl_root/nginx.conf -p $bl_root/"
expect_in "up shows the reload command" "$err" "-s reload -c $bl_root/nginx.conf -p $bl_root/"
read -r _ bl_master _ <"$bl_root/pids"
[ "$bl_master" = "$(cat "$bl_root/nginx.pid" 2>/dev/null)" ] && pass "ROOT/pids holds the master from nginx.pid" ||
	fail "ROOT/pids" "$(cat "$bl_root/pids")"
expect_in "the recorded PID is this nginx's master" "$(tr '\0' ' ' <"/proc/$bl_master/cmdline" 2>/dev/null)" \
	"nginx: master process"
bl_outside=$(sed 's/#.*//' "$bl_root/nginx.conf" | grep -o ' /[^ ;]*' | grep -v "^ $bl_root/" | tr '\n' ' ')
[ -z "$bl_outside" ] && pass "every path in nginx.conf is under ROOT" || fail "paths outside ROOT" "$bl_outside"
for bl_d in client_body_temp_path proxy_temp_path fastcgi_temp_path uwsgi_temp_path scgi_temp_path \
	"pid " "error_log " "access_log " "include $bl_root/raptor.d/\*.conf" "include $bl_root/sites.d/\*.conf"; do
	grep -q "^ *$bl_d" "$bl_root/nginx.conf" && pass "nginx.conf sets $bl_d" || fail "nginx.conf lacks $bl_d"
done
run bash "$bl_sh" up "$bl_root"
expect_rc "a second up is refused" 1
expect_in "a second up says why" "$err" "is already up (nginx pid $bl_master)"

mapfile -t bl_test < <(bash "$bl_sh" argv "$bl_root" test)
mapfile -t bl_reload < <(bash "$bl_sh" argv "$bl_root" reload)
[ "${bl_test[1]} ${bl_reload[1]} ${bl_reload[2]}" = "-t -s reload" ] && pass "argv prints the commands" ||
	fail "argv" "${bl_test[*]} / ${bl_reload[*]}"

# --- a pool and a site ------------------------------------------------------
run bash "$bl_sh" site "$bl_root" hello
expect_rc "a site before its pool is refused" 1
expect_in "the refusal says to add the pool first" "$err" "add the site after the pool exists"
[ ! -e "$bl_root/sites.d/hello.conf" ] && pass "no snippet is left behind" || fail "a snippet is left behind"

bl_pool hello "127.0.0.1:$bl_a"
run "${bl_test[@]}"
expect_rc "nginx -t accepts a pool file" 0
run bash "$bl_sh" site "$bl_root" hello
expect_rc "site hello /" 0
expect_in "the site is a location snippet" "$(cat "$bl_root/sites.d/hello.conf")" "location / {"
run bl_get /
expect_in "nginx serves the pool" "$out" "backend A"

# rewritten as raptor does it: new file, test, reload
bl_pool hello "127.0.0.1:$bl_b"
run "${bl_test[@]}"
expect_rc "test after a rewrite" 0
run "${bl_reload[@]}"
expect_rc "reload after a rewrite" 0
run bash "$bl_sh" wait-for "$bl_root" / "backend B"
expect_rc "nginx serves the rewritten pool" 0

bl_pool hello "127.0.0.1:$bl_a" "127.0.0.1:$bl_b"
run bash "$bl_sh" reload "$bl_root"
expect_rc "nginx.sh reload" 0
bl_seen=""
for bl_i in 1 2 3 4 5 6; do bl_seen="$bl_seen $(bl_get /)"; done
expect_in "both nodes serve (A)" "$bl_seen" "backend A"
expect_in "both nodes serve (B)" "$bl_seen" "backend B"

# a second pool on its own path, beside the first in the one server
bl_pool api "127.0.0.1:$bl_a"
run bash "$bl_sh" site "$bl_root" api /api/
expect_rc "site api /api/" 0
run bl_get /api/
expect_in "the second pool serves its path" "$out" "api A"

# --- a failed test changes nothing nginx serves ------------------------------
cp "$bl_root/raptor.d/hello.conf" "$SCRATCH/hello.conf.old"
printf 'upstream hello {\n}\n' >"$bl_root/raptor.d/hello.conf"
run "${bl_test[@]}"
expect_rc "nginx -t refuses an empty upstream" 1
expect_in "and says why" "$out$err" "no servers are inside upstream"
mv -f "$SCRATCH/hello.conf.old" "$bl_root/raptor.d/hello.conf"
run "${bl_test[@]}"
expect_rc "the restored file passes" 0
mv "$bl_root/raptor.d/api.conf" "$SCRATCH/api.conf.old"
run "${bl_test[@]}"
expect_rc "a pool a site proxies to cannot go" 1
expect_in "nginx names the missing upstream" "$out$err" 'host not found in upstream "api"'
mv "$SCRATCH/api.conf.old" "$bl_root/raptor.d/api.conf"
run bl_get /api/
expect_in "nginx still serves what it served" "$out" "api A"

# a node going away: nginx passes its requests to the next
kill -TERM "$bl_b_pid" 2>/dev/null
wait "$bl_b_pid" 2>/dev/null
bl_codes=""
for bl_i in 1 2 3 4 5 6; do
	bl_codes="$bl_codes $(curl -s --noproxy '*' --max-time 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$bl_port/")"
done
[ "$bl_codes" = " 200 200 200 200 200 200" ] && pass "a stopped node fails over" || fail "fail-over" "$bl_codes"

# a pool goes: its site first, then its file
run bash "$bl_sh" unsite "$bl_root" api
expect_rc "unsite api" 0
rm -f "$bl_root/raptor.d/api.conf"
run "${bl_test[@]}"
expect_rc "a pool without a site may go" 0

# --- the balancer entry for a desired state ---------------------------------
mkdir -p "$SCRATCH/desired"
bash "$bl_sh" balancer "$bl_root" edge >"$SCRATCH/desired/balancers.yaml"
expect_in "the balancer entry has the include_dir" "$(cat "$SCRATCH/desired/balancers.yaml")" \
	"include_dir: $bl_root/raptor.d"
run "$RAPTOR" validate "$SCRATCH/desired"
expect_rc "raptor validates the printed balancer entry" 0

# --- explicit port, down ----------------------------------------------------
bl_p2=$(bl_free_port)
run bash "$bl_sh" up "$SCRATCH/nginx2" "$bl_p2"
expect_rc "up with a port" 0
[ "$out" = "$bl_p2" ] && pass "it listens where it was told" || fail "up with a port" "$out"
run bash "$bl_sh" down "$SCRATCH/nginx2"
expect_rc "down the second" 0

mkdir -p "$SCRATCH/not-nginx"
echo keep >"$SCRATCH/not-nginx/file"
run bash "$bl_sh" down "$SCRATCH/not-nginx"
expect_rc "down refuses a directory that is not a sandbox" 1
[ -f "$SCRATCH/not-nginx/file" ] && pass "and leaves it alone" || fail "down removed a directory it does not own"

bl_workers=$(ps -e -o pid=,ppid= | awk -v p="$bl_master" '$2 == p { print $1 }')
run bash "$bl_sh" down "$bl_root"
expect_rc "nginx.sh down" 0
bl_alive=""
for bl_i in $bl_master $bl_workers; do bl_gone "$bl_i" || bl_alive="$bl_alive $bl_i"; done
[ -z "$bl_alive" ] && pass "the master and its workers are gone" || fail "still running:$bl_alive"
[ ! -e "$bl_root" ] && pass "down removes ROOT" || fail "ROOT is still there"
run curl -s --noproxy '*' --max-time 2 "http://127.0.0.1:$bl_port/"
[ "$rc" != 0 ] && pass "nothing answers on the port" || fail "the port still answers"
run bash "$bl_sh" down "$bl_root"
expect_rc "down again is fine" 0

bl_cleanup
if [ -n "$bl_old_trap" ]; then eval "$bl_old_trap"; else trap - EXIT; fi
