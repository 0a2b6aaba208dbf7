/*
 * Program names, Velociraptor's six-field format (DESIGN.md §1):
 * {app}-{version}-{config}-{release}-{proc}-{port}. Identifiers and versions
 * contain no '-', so a name splits back into exactly six fields. The last
 * field is a port, or for a worker a per-host slot (the metadata says which).
 */
#ifndef RAPTOR_PROGNAME_H
#define RAPTOR_PROGNAME_H

#include <stdbool.h>

#include "buf.h"

struct progname {
	char *app, *version, *config, *release, *proc;
	int port; /* or slot */
};

/* Parses `name`; 0 and fields allocated in *out (free with progname_release),
 * or -1 when it is not in the six-field format. */
int progname_parse(struct progname *out, const char *name);
/* The characters of a name's fields, the rule the loader enforces on app,
 * config, proc, squad and pool ([A-Za-z0-9_.]) and on versions (also '+'):
 * never '-', which separates the fields. */
bool progname_ident_char(unsigned char c);
bool progname_version_char(unsigned char c);
void progname_release(struct progname *p);
/* The port (or slot) of a six-field name without allocating; -1 otherwise. */
int progname_port(const char *name);
void progname_format(struct buf *out, const char *app, const char *version, const char *config,
		     const char *release, const char *proc, int port);

#endif
