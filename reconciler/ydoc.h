/*
 * A YAML file as a small tree of positioned nodes, built from libyaml's
 * events. Untrusted input is bounded here, before anything walks the tree:
 * UTF-8 is checked, one document per file, nesting depth, the number of
 * aliases and the number of nodes aliases bring in (a billion-laughs file is
 * refused as soon as its third level of aliases is read, never expanded).
 * An alias shares its anchor's node; nothing is copied.
 */
#ifndef RAPTOR_YDOC_H
#define RAPTOR_YDOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "buf.h"
#include "diag.h"

#define YDOC_MAX_DEPTH	     64
#define YDOC_MAX_ALIASES     100
#define YDOC_MAX_ALIAS_NODES 10000

enum ynode_kind { YNODE_SCALAR, YNODE_MAP, YNODE_SEQ };

struct ynode {
	enum ynode_kind kind;
	unsigned line, col; /* 1-based */
	bool plain;	    /* an unquoted scalar: may read as a number, boolean or null */
	const char *text;   /* scalars: the value, NUL-terminated */
	size_t len;
	struct ynode **items; /* seq: n items; map: n pairs, key at 2i, value at 2i+1 */
	size_t n;
	uint64_t weight; /* nodes in this subtree, aliases counted as expanded */
};

struct ydoc {
	struct ynode *root; /* NULL for a file with no document */
	struct arena mem;
};

/* Parses `data`; on failure adds one positioned diagnostic, frees what it
 * built and returns -1. */
int ydoc_parse(struct ydoc *doc, const char *file, const char *data, size_t len,
	       struct diags *diags);
void ydoc_release(struct ydoc *doc);

/* A scalar that YAML's core schema reads as null: empty, ~, null. */
bool ynode_is_null(const struct ynode *n);
/* For messages: "a mapping", "a list", "nothing (null)", "the value 'x'", ... */
void ynode_describe(struct buf *out, const struct ynode *n);

#endif
