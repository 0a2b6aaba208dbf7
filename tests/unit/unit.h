/* What every cmocka test file needs, in the order cmocka needs it. */
#ifndef RAPTOR_UNIT_H
#define RAPTOR_UNIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
