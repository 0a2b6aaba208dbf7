/*
 * The program file for one instance (DESIGN.md §4): the text the host plugin
 * stores as program_dir/NAME.conf and supervisord reads. Pure: no I/O, the
 * caller gives everything, including the creation time.
 *
 * The text is a metadata comment, then exactly one [program:NAME] section:
 *
 *   ;raptor: app=hello version=1.4.2 config=prod proc=web squad=web release=1a2b3c4d port=5001
 * slot= host=web1 pool=edge/hello_prod commit=abc created=2026-11-26T10:00:00Z
 *   [program:hello-1.4.2-prod-1a2b3c4d-web-5001]
 *   command=/apps/hello/bin/web --port 5001
 *   directory=/apps/hello                  (only if set)
 *   user=nobody                            (only if set)
 *   environment=ADDRESS="10.0.0.1",APP="hello",...,VERSION="1.4.2"
 *   autostart=true ... stderr_logfile=AUTO (fixed settings)
 *
 * Values after `key=` have every '%' doubled, since supervisord %-formats
 * them; the metadata line is a comment, which it does not, so it is written
 * as is. supervisord-notes.md §4 has the rules this follows.
 */
#ifndef RAPTOR_PROGTEXT_H
#define RAPTOR_PROGTEXT_H

#include "buf.h"
#include "desired.h"
#include "error.h"

/* The plugin's putProgram refuses longer text (contrib/supervisor). */
#define PROGTEXT_MAX ((size_t)64 << 10)

struct instance_spec {
	const struct swarm *swarm;  /* from the desired model */
	const char *release;	    /* 8 hex */
	const char *host, *address; /* host name and address (fill ${HOST}, ${ADDRESS}) */
	int port;		    /* 0 for a worker (port: none) */
	int slot;	     /* workers: the per-host slot (>= 1), used as the name's last field */
	const char *pool;    /* "balancer/pool" when routed, else NULL */
	const char *commit;  /* desired-state commit id or NULL */
	const char *created; /* ISO 8601 UTC timestamp, given by the caller (NULL: left empty) */
};

/* {app}-{version}-{config}-{release}-{proc}-{port or slot}, appended to out.
 * It does not check the fields; progtext_render does. */
void progtext_name(struct buf *out, const struct instance_spec *in);

/* Appends the whole file to `out`: the metadata line, then exactly one
 * [program:NAME] section, ending with a newline. Returns 0, or -1 with a
 * message naming the swarm and the field, leaving `out` as it was, when any
 * value would break the INI format or be changed by supervisord's parsing (a
 * control character such as a newline or CR, whitespace followed by ; or #,
 * a " or \ or a leading or trailing ' in an env value, whitespace in a
 * metadata value, the text %(here)s, which supervisord replaces even when
 * doubled), when a name field is not an identifier, when the port or
 * slot does not fit the swarm's port mode, when a placeholder would be left
 * unfilled, or when the text would exceed PROGTEXT_MAX. A NUL cannot be
 * refused: in a C string it ends the value. */
int progtext_render(struct buf *out, const struct instance_spec *in, struct error *err);

#endif
