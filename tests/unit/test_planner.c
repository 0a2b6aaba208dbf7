/*
 * The planner, one scenario a row: a desired state (YAML, through the real
 * loader), a live state written in a small notation, and every action the
 * plan must hold — no more, no fewer.
 *
 * Live notation, one string per host: "NAME[ down][ nosquad]: ITEM; ITEM"
 *   M app/config/proc@squad cur|old PORT|sSLOT [pool=balancer/pool] [noload | STATE]
 *     [unchecked]
 *        a managed program (cur: the desired release of that identity); STATE
 *        is its supervisord state when not RUNNING (STOPPED, EXITED, FATAL, …);
 *        unchecked: in the state directory's record of instances an apply
 *        started and never saw healthy
 *   U name     an unmanaged process        L port   a listening socket
 *   K name     an entry of that record for this host and a program of that name
 * Expected actions, as sorted strings:
 *   "+ host port|sSLOT reason[ [recheck]|[recheck, restart]]"
 *   "- host port|sSLOT reason[ (hint)]"   "~ balancer/pool"
 */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "desired_load.h"
#include "planner.h"
#include "release.h"

struct row {
	const char *name;
	const char *yaml[2];
	const char *hosts[5];
	const char *want[12];
	const char *pool;  /* "balancer/pool" whose membership after is checked */
	const char *after; /* its members after, space-separated */
	const char *note;  /* a substring of some note */
	bool guard;
	/* the balancer edge's pool files as read: "POOL=NODE,NODE POOL=" (NULL:
	 * not read, the planner goes by the instances' metadata) */
	const char *files;
};

#define SQUAD3                                                                                     \
	"squads:\n  web:\n    hosts: [web1, web2, web3]\n"                                         \
	"balancers:\n  edge: {type: nginx, include_dir: /etc/nginx/raptor.d}\n"
#define HELLO(size)                                                                                 \
	"swarms:\n  - {app: hello, version: '1', config: prod, proc: web, squad: web, size: " #size \
	", command: /x}\n"
#define HELLO_ROUTED(size)                                                                          \
	"swarms:\n  - {app: hello, version: '1', config: prod, proc: web, squad: web, size: " #size \
	", command: /x, routing: {balancer: edge, pool: p}}\n"
#define UNCHECKED "unchecked (started by an apply that did not finish)"
#define HELLO2(size)                                                                                \
	"swarms:\n  - {app: hello, version: '2', config: prod, proc: web, squad: web, size: " #size \
	", command: /x}\n"

static const struct row rows[] = {
	{"fresh deploy",
	 {SQUAD3 HELLO(3)},
	 {"web1:", "web2:", "web3:"},
	 {"+ web1 5000 new swarm", "+ web2 5000 new swarm", "+ web3 5000 new swarm"}},
	{"scale up",
	 {SQUAD3 HELLO(3)},
	 {"web1: M hello/prod/web@web cur 5000", "web2:", "web3:"},
	 {"+ web2 5000 scale up", "+ web3 5000 scale up"}},
	{"scale down keeps the first host",
	 {SQUAD3 HELLO(1)},
	 {"web1: M hello/prod/web@web cur 5000", "web2: M hello/prod/web@web cur 5000",
	  "web3: M hello/prod/web@web cur 5000"},
	 {"- web2 5000 scale down", "- web3 5000 scale down"}},
	{"scale down takes from the crowded host",
	 {SQUAD3 HELLO(2)},
	 {"web1: M hello/prod/web@web cur 5000; M hello/prod/web@web cur 5001",
	  "web2: M hello/prod/web@web cur 5000", "web3:"},
	 {"- web1 5001 scale down"}},
	{"version bump: make before break",
	 {SQUAD3 HELLO2(2)},
	 {"web1: M hello/prod/web@web old 5000", "web2: M hello/prod/web@web old 5000", "web3:"},
	 {"+ web3 5000 new release", "+ web1 5001 new release", "- web1 5000 stale release",
	  "- web2 5000 stale release"}},
	{"env change is a new release",
	 {SQUAD3 "swarms:\n  - {app: hello, version: '1', config: prod, proc: web, squad: web,"
		 " size: 1, command: /x, env: {A: b}}\n"},
	 {"web1: M hello/prod/web@web old 5000", "web2:", "web3:"},
	 {"+ web2 5000 new release", "- web1 5000 stale release"}},
	{"rename app",
	 {SQUAD3 "swarms:\n  - {app: hello2, version: '1', config: prod, proc: web, squad: web,"
		 " size: 1, command: /x}\n"},
	 {"web1: M hello/prod/web@web old 5000", "web2:", "web3:"},
	 {"+ web2 5000 new swarm",
	  "- web1 5000 orphan: app changed (likely renamed to hello2/prod/web@web)"}},
	{"rename proc",
	 {SQUAD3 "swarms:\n  - {app: hello, version: '1', config: prod, proc: www, squad: web,"
		 " size: 1, command: /x}\n"},
	 {"web1: M hello/prod/web@web old 5000", "web2:", "web3:"},
	 {"+ web2 5000 new swarm",
	  "- web1 5000 orphan: proc changed (likely renamed to hello/prod/www@web)"}},
	{"rename config",
	 {SQUAD3 "swarms:\n  - {app: hello, version: '1', config: europe, proc: web, squad: web,"
		 " size: 1, command: /x}\n"},
	 {"web1: M hello/prod/web@web old 5000", "web2:", "web3:"},
	 {"+ web2 5000 new swarm",
	  "- web1 5000 orphan: config changed (likely renamed to hello/europe/web@web)"}},
	{"move squad",
	 {"squads:\n  web:\n    hosts: [web1]\n  api:\n    hosts: [api1]\n"
	  "swarms:\n  - {app: hello, version: '1', config: prod, proc: web, squad: api,"
	  " size: 1, command: /x}\n"},
	 {"web1: M hello/prod/web@web old 5000", "api1:"},
	 {"+ api1 5000 new swarm",
	  "- web1 5000 orphan: squad changed (likely renamed to hello/prod/web@api)"}},
	{"delete a swarm",
	 {SQUAD3 "swarms:\n  - {app: api, version: '1', config: prod, proc: web, squad: web,"
		 " size: 2, command: /x}\n"},
	 {"web1: M hello/prod/web@web old 5000; M api/prod/web@web cur 5001",
	  "web2: M api/prod/web@web cur 5000", "web3:"},
	 {"- web1 5000 orphan: swarm removed"}},
	{"deleting most swarms trips the guard",
	 {SQUAD3 "swarms:\n  - {app: api, version: '1', config: prod, proc: web, squad: web,"
		 " size: 1, command: /x}\n"},
	 {"web1: M hello/prod/web@web old 5000; M api/prod/web@web cur 5001",
	  "web2: M hello/prod/web@web old 5000", "web3:"},
	 {"- web1 5000 orphan: swarm removed", "- web2 5000 orphan: swarm removed"},
	 .guard = true},
	{"no swarms at all trips the guard",
	 {SQUAD3},
	 {"web1: M hello/prod/web@web old 5000", "web2:", "web3:"},
	 {"- web1 5000 orphan: swarm removed"},
	 .guard = true},
	{"size 0 says what it wants",
	 {SQUAD3 HELLO(0)},
	 {"web1: M hello/prod/web@web cur 5000", "web2: M hello/prod/web@web cur 5000", "web3:"},
	 {"- web1 5000 scale down", "- web2 5000 scale down"}},
	{"two swarms share a pool while one is renamed: the pool never empties",
	 {SQUAD3 "swarms:\n"
		 "  - {app: hello2, version: '1', config: prod, proc: web, squad: web, size: 1,"
		 " command: /x, routing: {balancer: edge, pool: shared}}\n"
		 "  - {app: api, version: '1', config: prod, proc: web, squad: web, size: 1,"
		 " command: /x, routing: {balancer: edge, pool: shared}}\n"},
	 {"web1: M hello/prod/web@web old 5000 pool=edge/shared",
	  "web2: M api/prod/web@web cur 5000 pool=edge/shared", "web3:"},
	 {"+ web3 5000 new swarm",
	  "- web1 5000 orphan: app changed (likely renamed to hello2/prod/web@web)",
	  "~ edge/shared"},
	 "edge/shared",
	 "10.0.0.2:5000 10.0.0.3:5000"},
	{"an unmanaged Velociraptor program holds its port",
	 {"squads:\n  web:\n    hosts: [web1]\n" HELLO(2)},
	 {"web1: U legacy-1-prod-0badf00d-web-5001"},
	 {"+ web1 5000 new swarm", "+ web1 5002 new swarm"}},
	{"a listening socket is skipped",
	 {"squads:\n  web:\n    hosts: [web1]\n" HELLO(1)},
	 {"web1: L 5000"},
	 {"+ web1 5001 new swarm"}},
	{"squads' port ranges far apart: ports taken in each are seen",
	 {"squads:\n  web:\n    hosts: [web1]\n    ports: {first: 5000, last: 5001}\n"
	  "  api:\n    hosts: [api1]\n    ports: {first: 60000, last: 60002}\n"
	  "swarms:\n  - {app: api, version: '1', config: prod, proc: web, squad: api, size: 1,"
	  " command: /x}\n"
	  "  - {app: hello, version: '1', config: prod, proc: web, squad: web, size: 1,"
	  " command: /x}\n"},
	 {"web1: L 5000; L 60001", "api1: L 60000; U legacy-1-prod-0badf00d-web-60001; L 5001"},
	 {"+ api1 60002 new swarm", "+ web1 5001 new swarm"}},
	{"port range exhausted: nothing for that swarm, others unaffected",
	 {"squads:\n  web:\n    hosts: [web1]\n    ports: {first: 5000, last: 5000}\n"
	  "  api:\n    hosts: [api1]\n"
	  "swarms:\n  - {app: hello, version: '2', config: prod, proc: web, squad: web, size: 2,"
	  " command: /x}\n"
	  "  - {app: api, version: '1', config: prod, proc: web, squad: api, size: 1, command: /x}\n"},
	 {"web1: M hello/prod/web@web old 5000", "api1:"},
	 {"+ api1 5000 new swarm"},
	 .note = "port range 5000-5000 is exhausted on every reachable host of squad web"},
	{"an unreachable host under replace",
	 {SQUAD3 HELLO(3)},
	 {"web1: M hello/prod/web@web cur 5000", "web2: M hello/prod/web@web cur 5000",
	  "web3 down:"},
	 {"+ web1 5001 replacement for an unreachable host"}},
	{"an unreachable host under wait",
	 {"squads:\n  web:\n    hosts: [web1, web2, web3]\n    on_unreachable: wait\n" HELLO2(3)},
	 {"web1: M hello/prod/web@web old 5000", "web2:", "web3 down:"},
	 {NULL},
	 .note = "1 host of squad web unreachable and on_unreachable is wait"},
	{"a host removed from its squad",
	 {"squads:\n  web:\n    hosts: [web1, web2]\n" HELLO(2)},
	 {"web1: M hello/prod/web@web cur 5000",
	  "web2:", "web3 nosquad: M hello/prod/web@web cur 5000"},
	 {"+ web2 5000 scale up", "- web3 5000 orphan: host no longer in the squad"}},
	{"a host only in the state record",
	 {SQUAD3 HELLO(1)},
	 {"web1: M hello/prod/web@web cur 5000",
	  "web2:", "web3:", "old9 nosquad: M gone/prod/web@web old 5000; U keepme"},
	 {"- old9 5000 orphan: swarm removed"}},
	{"a worker swarm: slots unique per host",
	 {"squads:\n  web:\n    hosts: [web1]\n"
	  "swarms:\n  - {app: hello, version: '2', config: prod, proc: worker, squad: web, size: 3,"
	  " port: none, command: /x}\n"},
	 {"web1: M hello/prod/worker@web old s1"},
	 {"+ web1 s2 new release", "+ web1 s3 scale up", "+ web1 s4 scale up",
	  "- web1 s1 stale release"}},
	{"size 5 over 3 hosts is 2/2/1",
	 {SQUAD3 HELLO(5)},
	 {"web1:", "web2:", "web3:"},
	 {"+ web1 5000 new swarm", "+ web2 5000 new swarm", "+ web3 5000 new swarm",
	  "+ web1 5001 new swarm", "+ web2 5001 new swarm"}},
	{"moving a swarm's YAML to another file changes nothing",
	 {SQUAD3, HELLO(2)},
	 {"web1: M hello/prod/web@web cur 5000", "web2: M hello/prod/web@web cur 5000", "web3:"},
	 {NULL}},
	{"routing a new swarm changes its pool",
	 {SQUAD3 "swarms:\n  - {app: hello, version: '1', config: prod, proc: web, squad: web,"
		 " size: 1, command: /x, routing: {balancer: edge, pool: p}}\n"},
	 {"web1:", "web2:", "web3:"},
	 {"+ web1 5000 new swarm", "~ edge/p"},
	 "edge/p",
	 "10.0.0.1:5000"},
	{"an interrupted start is replaced, not trusted",
	 {SQUAD3 HELLO(1)},
	 {"web1: M hello/prod/web@web cur 5000 noload", "web2:", "web3:"},
	 {"+ web2 5000 new release",
	  "- web1 5000 never loaded by supervisord (an interrupted start)"}},
	{"drift: a current instance stopped by hand is started again where it is",
	 {SQUAD3 HELLO(3)},
	 {"web1: M hello/prod/web@web cur 5000 STOPPED", "web2: M hello/prod/web@web cur 5000",
	  "web3: M hello/prod/web@web cur 5000"},
	 {"+ web1 5000 not running in supervisord (stopped outside raptor): started again"}},
	{"drift: an exited worker is started again in its slot",
	 {SQUAD3 "swarms:\n  - {app: hello, version: '1', config: prod, proc: worker, squad: web,"
		 " size: 2, port: none, command: /x}\n"},
	 {"web1: M hello/prod/worker@web cur s1 EXITED", "web2: M hello/prod/worker@web cur s1",
	  "web3:"},
	 {"+ web1 s1 not running in supervisord (stopped outside raptor): started again"}},
	{"drift: a FATAL instance is replaced on a fresh port, then removed",
	 {SQUAD3 HELLO(3)},
	 {"web1: M hello/prod/web@web cur 5000 FATAL", "web2: M hello/prod/web@web cur 5000",
	  "web3: M hello/prod/web@web cur 5000"},
	 {"+ web1 5001 new release",
	  "- web1 5000 FATAL in supervisord (it could not start): replaced"}},
	{"not drift: BACKOFF and STARTING are supervisord's own business",
	 {SQUAD3 HELLO(3)},
	 {"web1: M hello/prod/web@web cur 5000 BACKOFF",
	  "web2: M hello/prod/web@web cur 5000 STARTING", "web3: M hello/prod/web@web cur 5000"},
	 {NULL}},
	{"drift: a stopped stale instance is not started, only replaced",
	 {SQUAD3 HELLO(1)},
	 {"web1: M hello/prod/web@web old 5000 STOPPED", "web2:", "web3:"},
	 {"+ web2 5000 new release", "- web1 5000 stale release"}},
	{"adopt: Velociraptor's programs of the swarm are replaced, the others left alone",
	 {SQUAD3 "swarms:\n  - {app: hello, version: '1', config: prod, proc: web, squad: web,"
		 " size: 3, command: /x, adopt: velociraptor}\n"},
	 {"web1: U hello-0.9-prod-0badf00d-web-5000", "web2: U hello-0.9-prod-0badf00d-web-5000",
	  "web3: U hello-0.9-europe-0badf00d-web-5000; U other-1-prod-0badf00d-web-5001; U bystander"},
	 {"+ web1 5001 new release", "+ web2 5001 new release", "+ web3 5002 scale up",
	  "- web1 5000 adopted from Velociraptor: replaced by a managed instance",
	  "- web2 5000 adopted from Velociraptor: replaced by a managed instance"}},
	{"no adopt: the same programs are only unmanaged",
	 {SQUAD3 HELLO(1)},
	 {"web1: U hello-0.9-prod-0badf00d-web-5000", "web2:", "web3:"},
	 {"+ web1 5001 new swarm"}},
	{"pool files: a dead host's node leaves the file",
	 {SQUAD3 HELLO_ROUTED(2)},
	 {"web1: M hello/prod/web@web cur 5000 pool=edge/p",
	  "web2: M hello/prod/web@web cur 5000 pool=edge/p", "web3 down:"},
	 {"~ edge/p"},
	 "edge/p",
	 "10.0.0.1:5000 10.0.0.2:5000",
	 .files = "p=10.0.0.1:5000,10.0.0.2:5000,10.0.0.3:5000"},
	{"pool files: a swarm with no reachable host keeps its pool as it is",
	 {SQUAD3 HELLO_ROUTED(2)},
	 {"web1 down:", "web2 down:", "web3 down:"},
	 {NULL},
	 "edge/p",
	 "10.0.0.1:5000 10.0.0.2:5000",
	 "no reachable host in squad web",
	 .files = "p=10.0.0.1:5000,10.0.0.2:5000"},
	{"pool files: a node removed by hand is put back",
	 {SQUAD3 HELLO_ROUTED(2)},
	 {"web1: M hello/prod/web@web cur 5000 pool=edge/p",
	  "web2: M hello/prod/web@web cur 5000 pool=edge/p", "web3:"},
	 {"~ edge/p"},
	 "edge/p",
	 "10.0.0.1:5000 10.0.0.2:5000",
	 .files = "p=10.0.0.1:5000"},
	{"pool files: as they should be, nothing to do",
	 {SQUAD3 HELLO_ROUTED(2)},
	 {"web1: M hello/prod/web@web cur 5000 pool=edge/p",
	  "web2: M hello/prod/web@web cur 5000 pool=edge/p", "web3:"},
	 {NULL},
	 .files = "p=10.0.0.1:5000,10.0.0.2:5000"},
	{"pool files: a file no swarm routes to goes",
	 {SQUAD3 HELLO_ROUTED(2)},
	 {"web1: M hello/prod/web@web cur 5000 pool=edge/p",
	  "web2: M hello/prod/web@web cur 5000 pool=edge/p", "web3:"},
	 {"~ edge/stray"},
	 "edge/stray",
	 "",
	 .files = "p=10.0.0.1:5000,10.0.0.2:5000 stray=10.0.0.9:1"},
	{"a host back: its instance, out of the pool, is the excess, not the checked replacement",
	 {SQUAD3 HELLO_ROUTED(3)},
	 {"web1: M hello/prod/web@web cur 5000 pool=edge/p",
	  "web2: M hello/prod/web@web cur 5000 pool=edge/p; M hello/prod/web@web cur 5001 pool=edge/p",
	  "web3: M hello/prod/web@web cur 5000 pool=edge/p"},
	 {"- web3 5000 scale down"},
	 .files = "p=10.0.0.1:5000,10.0.0.2:5000,10.0.0.2:5001"},
	{"all serving: the excess is on the host holding the most, highest port",
	 {SQUAD3 HELLO_ROUTED(3)},
	 {"web1: M hello/prod/web@web cur 5000 pool=edge/p",
	  "web2: M hello/prod/web@web cur 5000 pool=edge/p; M hello/prod/web@web cur 5001 pool=edge/p",
	  "web3: M hello/prod/web@web cur 5000 pool=edge/p"},
	 {"- web2 5001 scale down", "~ edge/p"},
	 .files = "p=10.0.0.1:5000,10.0.0.2:5000,10.0.0.2:5001,10.0.0.3:5000"},
	{"an unidentified managed program is an orphan",
	 {SQUAD3 HELLO(0)},
	 {"web1: M ?/?/?@? old 5005", "web2:", "web3:"},
	 {"- web1 5005 orphan: no swarm identity in its metadata"}},
	/* an instance an apply started and was killed before it saw it healthy */
	{"unchecked: a running instance of the release is checked again, and counts toward size",
	 {SQUAD3 HELLO2(3)},
	 {"web1: M hello/prod/web@web cur 5000 unchecked", "web2: M hello/prod/web@web old 5000",
	  "web3: M hello/prod/web@web old 5000"},
	 {"+ web1 5000 " UNCHECKED " [recheck]", "+ web2 5001 new release",
	  "+ web3 5001 new release", "- web2 5000 stale release", "- web3 5000 stale release"}},
	{"unchecked: routed only as a new instance is, when its check passes",
	 {SQUAD3 HELLO_ROUTED(1)},
	 {"web1: M hello/prod/web@web cur 5000 pool=edge/p unchecked",
	  "web2: M hello/prod/web@web old 5000 pool=edge/p", "web3:"},
	 {"+ web1 5000 " UNCHECKED " [recheck]", "- web2 5000 stale release", "~ edge/p"},
	 "edge/p",
	 "10.0.0.1:5000",
	 .files = "p=10.0.0.2:5000"},
	{"unchecked: STARTING and BACKOFF ones are checked again too",
	 {SQUAD3 HELLO(3)},
	 {"web1: M hello/prod/web@web cur 5000 STARTING unchecked",
	  "web2: M hello/prod/web@web cur 5000 unchecked BACKOFF",
	  "web3: M hello/prod/web@web cur 5000"},
	 {"+ web1 5000 " UNCHECKED " [recheck]", "+ web2 5000 " UNCHECKED " [recheck]"}},
	{"unchecked and stopped: started again, and checked as a new instance",
	 {SQUAD3 HELLO(3)},
	 {"web1: M hello/prod/web@web cur 5000 STOPPED unchecked",
	  "web2: M hello/prod/web@web cur 5000", "web3: M hello/prod/web@web cur 5000"},
	 {"+ web1 5000 " UNCHECKED " [recheck, restart]"}},
	{"unchecked, of a stale release: replaced as before",
	 {SQUAD3 HELLO(1)},
	 {"web1: M hello/prod/web@web old 5000 unchecked", "web2:", "web3:"},
	 {"+ web2 5000 new release", "- web1 5000 stale release"}},
	{"unchecked and FATAL: replaced as before",
	 {SQUAD3 HELLO(1)},
	 {"web1: M hello/prod/web@web cur 5000 FATAL unchecked", "web2:", "web3:"},
	 {"+ web2 5000 new release",
	  "- web1 5000 FATAL in supervisord (it could not start): replaced"}},
	{"unchecked: the first to go when there are too many",
	 {SQUAD3 HELLO(2)},
	 {"web1: M hello/prod/web@web cur 5000", "web2: M hello/prod/web@web cur 5000 unchecked",
	  "web3: M hello/prod/web@web cur 5000"},
	 {"- web2 5000 scale down"}},
	{"unchecked: an entry for a program that is not live is ignored",
	 {SQUAD3 HELLO(3)},
	 {"web1: M hello/prod/web@web cur 5000; K hello-1-prod-00000000-web-5009",
	  "web2: M hello/prod/web@web cur 5000; K gone", "web3: M hello/prod/web@web cur 5000"},
	 {NULL}},
	{"unchecked, under wait: nothing planned, and it is not kept in its pool",
	 {"squads:\n  web:\n    hosts: [web1, web2, web3]\n    on_unreachable: wait\n"
	  "balancers:\n  edge: {type: nginx, include_dir: /etc/nginx/raptor.d}\n" HELLO_ROUTED(2)},
	 {"web1: M hello/prod/web@web cur 5000 pool=edge/p",
	  "web2: M hello/prod/web@web cur 5000 pool=edge/p unchecked", "web3 down:"},
	 {"~ edge/p"},
	 "edge/p",
	 "10.0.0.1:5000",
	 .note = "on_unreachable is wait"},
};

/* ---- building the live state from the notation ---- */

struct builder {
	struct live *l;
	const struct desired *d;
};

typedef VEC(struct live_program) program_vec;
typedef VEC(struct live_process) process_vec;

static char *next_word(char **p)
{
	char *s = *p, *w;

	while (*s == ' ')
		s++;
	if (!*s)
		return NULL;
	w = s;
	while (*s && *s != ' ')
		s++;
	if (*s)
		*s++ = '\0';
	*p = s;
	return w;
}

static void add_meta(struct live *l, struct live_program *p, const char *k, const char *v)
{
	p->meta[p->nmeta].key = arena_strdup(&l->mem, k);
	p->meta[p->nmeta].value = arena_strdup(&l->mem, v);
	p->nmeta++;
}

static const struct {
	const char *name;
	int state;
} states[] = {{"STOPPED", PROC_STOPPED}, {"EXITED", PROC_EXITED},     {"FATAL", PROC_FATAL},
	      {"BACKOFF", PROC_BACKOFF}, {"STARTING", PROC_STARTING}, {"UNKNOWN", PROC_UNKNOWN}};

static void add_managed(struct builder *b, struct live_host *h, char *spec, program_vec *progs,
			process_vec *procs)
{
	char *id = next_word(&spec), *rel = next_word(&spec), *where = next_word(&spec);
	char *opt;
	char app[64] = "", config[64] = "", proc[64] = "", squad[64] = "";
	char release[RELEASE_HEX + 1] = "00000000";
	struct live_program *p = vec_add(progs);
	struct live_process *pr = vec_add(procs);
	char name[256];

	assert_int_equal(sscanf(id, "%63[^/]/%63[^/]/%63[^@]@%63s", app, config, proc, squad), 4);
	if (!strcmp(rel, "cur")) {
		const struct swarm *s = desired_has(b->d, id);

		assert_non_null(s);
		release_hash(release, s);
	}
	snprintf(name, sizeof(name), "%s-1-%s-%s-%s-%s", app, config, release, proc,
		 where[0] == 's' ? where + 1 : where);
	p->name = arena_strdup(&b->l->mem, name);
	p->meta = arena_alloc(&b->l->mem, 8 * sizeof(*p->meta));
	if (strcmp(app, "?")) {
		add_meta(b->l, p, "app", app);
		add_meta(b->l, p, "config", config);
		add_meta(b->l, p, "proc", proc);
		add_meta(b->l, p, "squad", squad);
	}
	add_meta(b->l, p, "release", release);
	add_meta(b->l, p, where[0] == 's' ? "slot" : "port", where[0] == 's' ? where + 1 : where);
	pr->name = pr->group = p->name;
	pr->statename = "RUNNING";
	pr->state = PROC_RUNNING;
	while ((opt = next_word(&spec))) {
		if (!strncmp(opt, "pool=", 5))
			add_meta(b->l, p, "pool", opt + 5);
		else if (!strcmp(opt, "unchecked"))
			*vec_add(&b->l->unchecked) = (struct live_unchecked){h->name, p->name};
		else if (!strcmp(opt, "noload"))
			pr = NULL; /* a file supervisord never loaded */
		for (size_t i = 0; pr && i < sizeof(states) / sizeof(states[0]); i++)
			if (!strcmp(opt, states[i].name)) {
				pr->statename = states[i].name;
				pr->state = states[i].state;
			}
	}
	if (!pr)
		procs->n--;
}

static void build_live(struct builder *b, const char *const *hosts)
{
	for (size_t i = 0; i < 5 && hosts[i]; i++) {
		char *text = strdup(hosts[i]), *colon = strchr(text, ':'), *items = colon + 1,
		     *item;
		struct live_host *h = vec_add(&b->l->hosts);
		program_vec progs = {0};
		process_vec procs = {0};
		VEC(int) ports = {0};
		char hostname[64], addr[32];

		*colon = '\0';
		assert_int_equal(sscanf(text, "%63s", hostname), 1);
		h->name = arena_strdup(&b->l->mem, hostname);
		snprintf(addr, sizeof(addr), "10.0.0.%zu", i + 1);
		h->address = arena_strdup(&b->l->mem, addr);
		h->reachable = !strstr(text, " down");
		h->squad = strstr(text, " nosquad") ? NULL : "web";
		if (!h->reachable)
			h->error = "connection refused";
		while ((item = strsep(&items, ";"))) {
			char *kind = next_word(&item);

			if (!kind)
				continue;
			if (!strcmp(kind, "M")) {
				add_managed(b, h, item, &progs, &procs);
			} else if (!strcmp(kind, "U")) {
				struct live_process *pr = vec_add(&procs);

				pr->name = pr->group = arena_strdup(&b->l->mem, next_word(&item));
				pr->statename = "RUNNING";
				pr->state = PROC_RUNNING;
			} else if (!strcmp(kind, "L")) {
				vec_push(&ports, atoi(next_word(&item)));
			} else if (!strcmp(kind, "K")) {
				*vec_add(&b->l->unchecked) = (struct live_unchecked){
					h->name, arena_strdup(&b->l->mem, next_word(&item))};
			}
		}
		h->programs = arena_memdup(&b->l->mem, progs.v, progs.n * sizeof(*progs.v));
		h->nprograms = progs.n;
		h->procs = arena_memdup(&b->l->mem, procs.v, procs.n * sizeof(*procs.v));
		h->nprocs = procs.n;
		h->ports = arena_memdup(&b->l->mem, ports.v, ports.n * sizeof(*ports.v));
		h->nports = ports.n;
		vec_release(&progs);
		vec_release(&procs);
		vec_release(&ports);
		free(text);
	}
}

static void build_pools(struct live *l, const char *files)
{
	char *text = strdup(files), *rest = text, *entry;

	vec_push(&l->pool_balancers, "edge");
	while ((entry = strsep(&rest, " "))) {
		char *eq = strchr(entry, '='), *nodes, *n;
		struct live_pool *lp = vec_add(&l->pools);

		*eq = '\0';
		lp->balancer = "edge";
		lp->pool = arena_strdup(&l->mem, entry);
		lp->nodes = arena_alloc(&l->mem, 8 * sizeof(*lp->nodes));
		nodes = eq + 1;
		while ((n = strsep(&nodes, ",")))
			if (*n)
				lp->nodes[lp->n++] = arena_strdup(&l->mem, n);
	}
	free(text);
}

static void load(struct desired *d, const char *const *yaml)
{
	struct source src;
	struct diags diags;

	source_init(&src);
	for (size_t i = 0; i < 2 && yaml[i]; i++) {
		char path[16];

		snprintf(path, sizeof(path), "f%zu.yaml", i);
		source_add(&src, path, yaml[i], strlen(yaml[i]));
	}
	source_sort(&src);
	diags_init(&diags, 0);
	if (desired_load(d, &src, &diags) < 0) {
		for (size_t i = 0; i < diags.items.n; i++)
			print_message("%s:%u:%u: %s\n", diags.items.v[i].file,
				      diags.items.v[i].line, diags.items.v[i].col,
				      diags.items.v[i].msg);
		fail_msg("the row's desired state does not load");
	}
	diags_release(&diags);
	source_release(&src);
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *describe(const struct plan_action *a)
{
	char where[32], buf[512];

	if (a->port)
		snprintf(where, sizeof(where), "%d", a->port);
	else
		snprintf(where, sizeof(where), "s%d", a->slot);
	if (a->op == PLAN_ROUTE)
		snprintf(buf, sizeof(buf), "~ %s/%s", a->balancer, a->pool);
	else
		snprintf(buf, sizeof(buf), "%s %s %s %s%s%s%s%s", a->op == PLAN_START ? "+" : "-",
			 a->host, where, plan_reason_text(a->reason), a->hint ? " (" : "",
			 a->hint ? a->hint : "", a->hint ? ")" : "",
			 !a->recheck  ? ""
			 : a->restart ? " [recheck, restart]"
				      : " [recheck]");
	return strdup(buf);
}

static bool check_row(const struct row *r)
{
	struct desired d;
	struct live l;
	struct plan p;
	struct builder b = {&l, &d};
	char **got;
	const char *want[12];
	size_t nwant = 0;
	bool ok = true;

	load(&d, r->yaml);
	live_init(&l);
	build_live(&b, r->hosts);
	if (r->files)
		build_pools(&l, r->files);
	plan_build(&p, &d, &l);

	got = calloc(p.actions.n + 1, sizeof(*got));
	for (size_t i = 0; i < p.actions.n; i++)
		got[i] = describe(&p.actions.v[i]);
	while (nwant < 12 && r->want[nwant]) {
		want[nwant] = r->want[nwant];
		nwant++;
	}
	qsort(got, p.actions.n, sizeof(*got), str_cmp);
	qsort(want, nwant, sizeof(*want), str_cmp);
	if (nwant != p.actions.n)
		ok = false;
	for (size_t i = 0; ok && i < nwant; i++)
		ok = !strcmp(want[i], got[i]);
	if (!ok) {
		print_message("row '%s': actions differ\n", r->name);
		for (size_t i = 0; i < nwant; i++)
			print_message("    want %s\n", want[i]);
		for (size_t i = 0; i < p.actions.n; i++)
			print_message("    got  %s\n", got[i]);
	}
	if (r->pool) {
		char after[512] = "";

		for (size_t i = 0; i < p.pools.n; i++) {
			char key[128];

			snprintf(key, sizeof(key), "%s/%s", p.pools.v[i].balancer,
				 p.pools.v[i].pool);
			if (strcmp(key, r->pool))
				continue;
			for (size_t j = 0; j < p.pools.v[i].after.n; j++)
				snprintf(after + strlen(after), sizeof(after) - strlen(after),
					 "%s%s", j ? " " : "", p.pools.v[i].after.v[j]);
		}
		if (strcmp(after, r->after)) {
			print_message("row '%s': pool %s after is '%s', want '%s'\n", r->name,
				      r->pool, after, r->after);
			ok = false;
		}
	}
	if (r->note) {
		bool found = false;

		for (size_t i = 0; i < p.notes.n; i++)
			found |= strstr(p.notes.v[i].text, r->note) != NULL;
		if (!found) {
			print_message("row '%s': no note says '%s'\n", r->name, r->note);
			ok = false;
		}
	}
	if (p.guard_tripped != r->guard) {
		print_message("row '%s': guard %s, want %s (%s)\n", r->name,
			      p.guard_tripped ? "tripped" : "quiet", r->guard ? "tripped" : "quiet",
			      p.guard_reason ? p.guard_reason : "");
		ok = false;
	}
	for (size_t i = 0; i < p.actions.n; i++)
		free(got[i]);
	free(got);
	plan_release(&p);
	vec_release(&l.hosts);
	live_release(&l);
	desired_release(&d);
	return ok;
}

static void test_rows(void **state)
{
	int failures = 0;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++)
		failures += !check_row(&rows[i]);
	assert_int_equal(failures, 0);
}

static void test_classes(void **state)
{
	const char *yaml[2] = {SQUAD3 HELLO(1)};
	const char *hosts[5] = {
		"web1: M hello/prod/web@web cur 5000; M hello/prod/web@web cur 5001",
		"web2: M hello/prod/web@web old 5000; U legacy",
		"web3: M gone/prod/web@web old 5000"};
	struct desired d;
	struct live l;
	struct plan p;
	struct builder b = {&l, &d};
	int seen[5] = {0};

	(void)state;
	load(&d, yaml);
	live_init(&l);
	build_live(&b, hosts);
	plan_build(&p, &d, &l);
	for (size_t i = 0; i < p.entries.n; i++)
		seen[p.entries.v[i].klass]++;
	assert_int_equal(seen[CLASS_CURRENT], 1);
	assert_int_equal(seen[CLASS_EXCESS], 1);
	assert_int_equal(seen[CLASS_STALE], 1);
	assert_int_equal(seen[CLASS_ORPHAN], 1);
	assert_int_equal(seen[CLASS_UNMANAGED], 1);
	assert_int_equal(p.managed, 4);
	assert_int_equal(p.unmanaged, 1);
	assert_int_equal(p.starts, 0);
	assert_int_equal(p.stops, 3);
	plan_release(&p);
	vec_release(&l.hosts);
	live_release(&l);
	desired_release(&d);
}

/* Several squads losing every instance: the guard names the first by name,
 * whatever the order of the planner's maps. */
static void test_guard_names_first_squad(void **state)
{
	const char *yaml[2] = {
		"squads:\n  alpha:\n    hosts: [a1]\n  delta:\n    hosts: [d1]\n"
		"  bravo:\n    hosts: [b1]\n  echo:\n    hosts: [e1]\n  charlie:\n    hosts: [c1]\n"
		"swarms:\n  - {app: keep, version: '1', config: prod, proc: web, squad: alpha,"
		" size: 4, command: /x}\n"};
	const char *hosts[5] = {
		"a1: M keep/prod/web@alpha cur 5000; M keep/prod/web@alpha cur 5001;"
		" M keep/prod/web@alpha cur 5002; M keep/prod/web@alpha cur 5003",
		"d1: M gone/prod/web@delta old 5000", "b1: M gone/prod/web@bravo old 5000",
		"e1: M gone/prod/web@echo old 5000", "c1: M gone/prod/web@charlie old 5000"};
	struct desired d;
	struct live l;
	struct plan p;
	struct builder b = {&l, &d};

	(void)state;
	load(&d, yaml);
	live_init(&l);
	build_live(&b, hosts);
	plan_build(&p, &d, &l);
	assert_true(p.guard_tripped);
	assert_non_null(strstr(p.guard_reason, "squad bravo (1)"));
	plan_release(&p);
	vec_release(&l.hosts);
	live_release(&l);
	desired_release(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_classes),
		cmocka_unit_test(test_guard_names_first_squad),
	};
	return cmocka_run_group_tests_name("planner", tests, NULL, NULL);
}
