/* YAML events to a bounded node tree; see ydoc.h. */
#include "ydoc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "vec.h"
#include "banned.h"

struct frame {
	struct ynode *node;
	char *anchor;
	VEC(struct ynode *) items;
};

struct anchor {
	char *name;
	struct ynode *node;
};

struct builder {
	struct ydoc *doc;
	const char *file;
	struct diags *diags;
	VEC(struct frame) stack;
	VEC(struct anchor) anchors;
	size_t aliases;
	uint64_t alias_nodes;
	int docs;
};

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Finds the first byte that is not valid UTF-8 and reports where it is. */
static int check_utf8(const char *file, const char *data, size_t len, struct diags *diags)
{
	const unsigned char *s = (const unsigned char *)data;
	unsigned line = 1, col = 1;
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t need, k;
		uint32_t cp;

		if (c < 0x80) {
			need = 0;
			cp = c;
		} else if ((c & 0xe0) == 0xc0) {
			need = 1;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			need = 2;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			need = 3;
			cp = c & 0x07;
		} else {
			goto bad;
		}
		if (need > len - i - 1)
			goto bad;
		for (k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				goto bad;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((need == 1 && cp < 0x80) || (need == 2 && cp < 0x800) ||
		    (need == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			goto bad;
		if (c == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
		i += need + 1;
	}
	return 0;
bad:
	diag_add(diags, file, line, col,
		 "invalid UTF-8 (byte 0x%02x): desired-state files must be UTF-8", s[i]);
	return -1;
}

/* libyaml's reader reports a byte offset; turn it into a line and column. */
static void offset_to_mark(const char *data, size_t len, size_t off, unsigned *line, unsigned *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off && i < len; i++) {
		if (data[i] == '\n') {
			(*line)++;
			*col = 1;
		} else if (((unsigned char)data[i] & 0xc0) != 0x80) {
			(*col)++;
		}
	}
}

static void report_parser_error(struct builder *b, yaml_parser_t *p, const char *data, size_t len)
{
	unsigned line, col;

	switch (p->error) {
	case YAML_MEMORY_ERROR:
		diag_add(b->diags, b->file, 0, 0, "out of memory while parsing YAML");
		return;
	case YAML_READER_ERROR:
		offset_to_mark(data, len, p->problem_offset, &line, &col);
		diag_add(b->diags, b->file, line, col, "YAML syntax error: %s",
			 p->problem ? p->problem : "unreadable input");
		return;
	default:
		if (p->context)
			diag_add(b->diags, b->file, (unsigned)p->problem_mark.line + 1,
				 (unsigned)p->problem_mark.column + 1,
				 "YAML syntax error: %s (%s at %u:%u)",
				 p->problem ? p->problem : "malformed input", p->context,
				 (unsigned)p->context_mark.line + 1,
				 (unsigned)p->context_mark.column + 1);
		else
			diag_add(b->diags, b->file, (unsigned)p->problem_mark.line + 1,
				 (unsigned)p->problem_mark.column + 1, "YAML syntax error: %s",
				 p->problem ? p->problem : "malformed input");
	}
}

static struct ynode *new_node(struct builder *b, enum ynode_kind kind, const yaml_mark_t *m)
{
	struct ynode *n = arena_alloc(&b->doc->mem, sizeof(*n));

	n->kind = kind;
	n->line = (unsigned)m->line + 1;
	n->col = (unsigned)m->column + 1;
	n->weight = 1;
	return n;
}

static void add_anchor(struct builder *b, const char *name, struct ynode *node)
{
	struct anchor *a;

	if (!name)
		return;
	a = vec_add(&b->anchors);
	a->name = arena_strdup(&b->doc->mem, name);
	a->node = node;
}

static struct ynode *find_anchor(struct builder *b, const char *name)
{
	for (size_t i = b->anchors.n; i-- > 0;)
		if (!strcmp(b->anchors.v[i].name, name))
			return b->anchors.v[i].node;
	return NULL;
}

static void attach(struct builder *b, struct ynode *n)
{
	if (b->stack.n)
		vec_push(&b->stack.v[b->stack.n - 1].items, n);
	else
		b->doc->root = n;
}

static int on_event(struct builder *b, yaml_event_t *ev)
{
	struct ynode *n;
	struct frame *f;

	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (++b->docs > 1) {
			diag_add(
				b->diags, b->file, (unsigned)ev->start_mark.line + 1,
				(unsigned)ev->start_mark.column + 1,
				"a second YAML document: each file holds one document (split it into two files)");
			return -1;
		}
		return 0;
	case YAML_SCALAR_EVENT:
		n = new_node(b, YNODE_SCALAR, &ev->start_mark);
		n->text = arena_strndup(&b->doc->mem, (const char *)ev->data.scalar.value,
					ev->data.scalar.length);
		n->len = ev->data.scalar.length;
		n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		/* an explicit core tag decides how the scalar reads, not its quotes */
		if (ev->data.scalar.tag) {
			const char *tag = (const char *)ev->data.scalar.tag;

			if (!strcmp(tag, YAML_STR_TAG))
				n->plain = false;
			else if (!strcmp(tag, YAML_INT_TAG) || !strcmp(tag, YAML_BOOL_TAG) ||
				 !strcmp(tag, YAML_NULL_TAG) || !strcmp(tag, YAML_FLOAT_TAG))
				n->plain = true;
		}
		add_anchor(b, (const char *)ev->data.scalar.anchor, n);
		attach(b, n);
		return 0;
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		if (b->stack.n >= YDOC_MAX_DEPTH) {
			diag_add(b->diags, b->file, (unsigned)ev->start_mark.line + 1,
				 (unsigned)ev->start_mark.column + 1,
				 "nesting deeper than %d levels", YDOC_MAX_DEPTH);
			return -1;
		}
		f = vec_add(&b->stack);
		f->node = new_node(b, ev->type == YAML_MAPPING_START_EVENT ? YNODE_MAP : YNODE_SEQ,
				   &ev->start_mark);
		if (ev->type == YAML_MAPPING_START_EVENT && ev->data.mapping_start.anchor)
			f->anchor = arena_strdup(&b->doc->mem,
						 (const char *)ev->data.mapping_start.anchor);
		if (ev->type == YAML_SEQUENCE_START_EVENT && ev->data.sequence_start.anchor)
			f->anchor = arena_strdup(&b->doc->mem,
						 (const char *)ev->data.sequence_start.anchor);
		return 0;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT: {
		struct frame done = b->stack.v[--b->stack.n];

		n = done.node;
		n->n = n->kind == YNODE_MAP ? done.items.n / 2 : done.items.n;
		n->items = arena_memdup(&b->doc->mem, done.items.v,
					done.items.n * sizeof(*done.items.v));
		for (size_t i = 0; i < done.items.n; i++)
			n->weight = sat_add(n->weight, done.items.v[i]->weight);
		vec_release(&done.items);
		/* registered only now, so an alias inside its own anchor is unknown */
		add_anchor(b, done.anchor, n);
		attach(b, n);
		return 0;
	}
	case YAML_ALIAS_EVENT: {
		const char *name = (const char *)ev->data.alias.anchor;
		unsigned line = (unsigned)ev->start_mark.line + 1;
		unsigned col = (unsigned)ev->start_mark.column + 1;

		n = find_anchor(b, name);
		if (!n) {
			diag_add(b->diags, b->file, line, col,
				 "alias '*%s' names no anchor defined before it", name);
			return -1;
		}
		if (++b->aliases > YDOC_MAX_ALIASES) {
			diag_add(
				b->diags, b->file, line, col,
				"more than %d aliases in one file: aliases are limited so that a file cannot expand without bound",
				YDOC_MAX_ALIASES);
			return -1;
		}
		b->alias_nodes = sat_add(b->alias_nodes, n->weight);
		if (b->alias_nodes > YDOC_MAX_ALIAS_NODES) {
			diag_add(
				b->diags, b->file, line, col,
				"alias '*%s' expands to %llu%s nodes: at most %d nodes may come from aliases in one file",
				name, (unsigned long long)n->weight,
				n->weight == UINT64_MAX ? "+" : "", YDOC_MAX_ALIAS_NODES);
			return -1;
		}
		attach(b, n);
		return 0;
	}
	default:
		return 0;
	}
}

int ydoc_parse(struct ydoc *doc, const char *file, const char *data, size_t len,
	       struct diags *diags)
{
	struct builder b = {.doc = doc, .file = file, .diags = diags};
	yaml_parser_t parser;
	yaml_event_t ev;
	int rc = -1, done = 0;

	memset(doc, 0, sizeof(*doc));
	if (check_utf8(file, data, len, diags) < 0)
		return -1;
	if (!yaml_parser_initialize(&parser)) {
		diag_add(diags, file, 0, 0, "out of memory while parsing YAML");
		return -1;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
	yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
	while (!done) {
		if (!yaml_parser_parse(&parser, &ev)) {
			report_parser_error(&b, &parser, data, len);
			goto cleanup;
		}
		done = ev.type == YAML_STREAM_END_EVENT;
		if (on_event(&b, &ev) < 0) {
			yaml_event_delete(&ev);
			goto cleanup;
		}
		yaml_event_delete(&ev);
	}
	rc = 0;
cleanup:
	for (size_t i = 0; i < b.stack.n; i++)
		vec_release(&b.stack.v[i].items);
	vec_release(&b.stack);
	vec_release(&b.anchors);
	yaml_parser_delete(&parser);
	if (rc < 0)
		ydoc_release(doc); /* a failed parse leaves nothing to release */
	return rc;
}

void ydoc_release(struct ydoc *doc)
{
	arena_release(&doc->mem);
	doc->root = NULL;
}

bool ynode_is_null(const struct ynode *n)
{
	return n->kind == YNODE_SCALAR && n->plain &&
	       (!n->len || !strcmp(n->text, "~") || !strcmp(n->text, "null") ||
		!strcmp(n->text, "Null") || !strcmp(n->text, "NULL"));
}

void ynode_describe(struct buf *out, const struct ynode *n)
{
	const size_t show = 40;

	if (n->kind == YNODE_MAP) {
		buf_puts(out, "a mapping");
	} else if (n->kind == YNODE_SEQ) {
		buf_puts(out, "a list");
	} else if (ynode_is_null(n)) {
		buf_puts(out, "nothing (null)");
	} else {
		buf_puts(out, n->plain ? "the value '" : "the quoted string '");
		buf_add_printable(out, n->text, n->len > show ? show : n->len);
		buf_puts(out, n->len > show ? "...'" : "'");
	}
}
