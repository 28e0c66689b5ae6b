/*
 * acpi_aml.c - the AML builder (see acpi_aml.h).  Opcodes and encodings
 * from ACPI 6.x, 20.2 "AML Grammar Definition"; resource descriptors from
 * 6.4 "Resource Data Types for ACPI".
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "acpi_aml.h"

/* 20.2.x opcodes */
#define	AML_ZERO	0x00
#define	AML_ONE		0x01
#define	AML_NAME	0x08
#define	AML_BYTEPFX	0x0a
#define	AML_WORDPFX	0x0b
#define	AML_DWORDPFX	0x0c
#define	AML_STRINGPFX	0x0d
#define	AML_QWORDPFX	0x0e
#define	AML_SCOPE	0x10
#define	AML_BUFFER	0x11
#define	AML_PACKAGE	0x12
#define	AML_METHOD	0x14
#define	AML_DUALNAME	0x2e
#define	AML_MULTINAME	0x2f
#define	AML_EXTPFX	0x5b
#define	AML_ROOTCHAR	0x5c
#define	AML_PARENTCHAR	0x5e
#define	AML_ARG0	0x68
#define	AML_STORE	0x70
#define	AML_RETURN	0xa4
#define	AML_DEVICE	0x82	/* after AML_EXTPFX */

/* Marks an open Buffer: its BufferSize is inserted with the PkgLength. */
#define	AML_OPEN_BUFFER	((size_t)1 << (sizeof(size_t) * 8 - 1))

void
aml_init(struct aml *a)
{
	memset(a, 0, sizeof(*a));
}

void
aml_free(struct aml *a)
{
	free(a->a_buf);
	memset(a, 0, sizeof(*a));
}

int
aml_finish(struct aml *a)
{
	if (a->a_error == 0 && a->a_depth != 0)
		a->a_error = -EINVAL;
	return (a->a_error);
}

static bool
aml_reserve(struct aml *a, size_t n)
{
	uint8_t *p;
	size_t cap;

	if (a->a_error != 0)
		return (false);
	if (a->a_len + n <= a->a_cap)
		return (true);
	cap = a->a_cap != 0 ? a->a_cap : 256;
	while (cap < a->a_len + n)
		cap *= 2;
	p = realloc(a->a_buf, cap);
	if (p == NULL) {
		a->a_error = -ENOMEM;
		return (false);
	}
	a->a_buf = p;
	a->a_cap = cap;
	return (true);
}

void
aml_bytes(struct aml *a, const void *p, size_t n)
{
	if (!aml_reserve(a, n))
		return;
	memcpy(a->a_buf + a->a_len, p, n);
	a->a_len += n;
}

void
aml_byte(struct aml *a, uint8_t b)
{
	aml_bytes(a, &b, 1);
}

static void
aml_le(struct aml *a, uint64_t v, int n)
{
	uint8_t b[8];
	int i;

	for (i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	aml_bytes(a, b, (size_t)n);
}

/* ComputationalData (20.2.3): the shortest form that holds v. */
static size_t
aml_integer_encode(uint64_t v, uint8_t out[9])
{
	int n, i;

	if (v == 0 || v == 1) {
		out[0] = v == 0 ? AML_ZERO : AML_ONE;
		return (1);
	}
	if (v <= 0xff) {
		out[0] = AML_BYTEPFX;
		n = 1;
	} else if (v <= 0xffff) {
		out[0] = AML_WORDPFX;
		n = 2;
	} else if (v <= 0xffffffff) {
		out[0] = AML_DWORDPFX;
		n = 4;
	} else {
		out[0] = AML_QWORDPFX;
		n = 8;
	}
	for (i = 0; i < n; i++)
		out[1 + i] = (uint8_t)(v >> (8 * i));
	return ((size_t)n + 1);
}

void
aml_integer(struct aml *a, uint64_t v)
{
	uint8_t b[9];

	aml_bytes(a, b, aml_integer_encode(v, b));
}

void
aml_string(struct aml *a, const char *s)
{
	aml_byte(a, AML_STRINGPFX);
	aml_bytes(a, s, strlen(s) + 1);
}

/*
 * EISA ID (6.1.5): three letters in 5 bits each and four hex digits, the
 * whole stored big-endian ("PNP0A03" is the bytes 41 d0 0a 03).
 */
uint32_t
aml_eisaid_value(const char *id)
{
	uint32_t v = 0;
	int i;

	if (strlen(id) != 7)
		return (0);
	for (i = 0; i < 3; i++) {
		if (id[i] < 'A' || id[i] > 'Z')
			return (0);
		v = v << 5 | (uint32_t)(id[i] - 0x40);
	}
	for (i = 3; i < 7; i++) {
		int c = id[i];
		int d = c >= '0' && c <= '9' ? c - '0' :
		    c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (d < 0)
			return (0);
		v = v << 4 | (uint32_t)d;
	}
	/* v holds bit 31 = 0, then the 31 bits; store as big-endian. */
	return (__builtin_bswap32(v));
}

void
aml_eisaid(struct aml *a, const char *id)
{
	uint32_t v = aml_eisaid_value(id);

	if (v == 0 && a->a_error == 0)
		a->a_error = -EINVAL;
	/* Always the DWord form, as iasl emits EisaId(). */
	aml_byte(a, AML_DWORDPFX);
	aml_le(a, v, 4);
}

static bool
aml_namechar(int c, bool lead)
{
	return ((c >= 'A' && c <= 'Z') || c == '_' || (!lead && c >= '0' && c <= '9'));
}

/* NameString (20.2.2). */
void
aml_namestring(struct aml *a, const char *name)
{
	uint8_t segs[255][4];
	const char *p = name;
	int nseg = 0, i;

	if (*p == '\\')
		aml_byte(a, AML_ROOTCHAR), p++;
	else
		while (*p == '^')
			aml_byte(a, AML_PARENTCHAR), p++;
	while (*p != '\0') {
		if (nseg == 255) {
			a->a_error = a->a_error ? a->a_error : -EINVAL;
			return;
		}
		for (i = 0; i < 4 && *p != '\0' && *p != '.'; i++, p++) {
			if (!aml_namechar(*p, i == 0)) {
				a->a_error = a->a_error ? a->a_error : -EINVAL;
				return;
			}
			segs[nseg][i] = (uint8_t)*p;
		}
		if (i == 0 || (*p != '\0' && *p != '.')) {
			a->a_error = a->a_error ? a->a_error : -EINVAL;
			return;
		}
		for (; i < 4; i++)
			segs[nseg][i] = '_';
		nseg++;
		if (*p == '.')
			p++;
	}
	if (nseg == 0)
		aml_byte(a, 0x00);	/* NullName */
	else if (nseg == 2)
		aml_byte(a, AML_DUALNAME);
	else if (nseg > 2) {
		aml_byte(a, AML_MULTINAME);
		aml_byte(a, (uint8_t)nseg);
	}
	aml_bytes(a, segs, (size_t)nseg * 4);
}

void
aml_name(struct aml *a, const char *name)
{
	aml_byte(a, AML_NAME);
	aml_namestring(a, name);
}

void
aml_name_integer(struct aml *a, const char *name, uint64_t v)
{
	aml_name(a, name);
	aml_integer(a, v);
}

void
aml_name_string(struct aml *a, const char *name, const char *s)
{
	aml_name(a, name);
	aml_string(a, s);
}

void
aml_name_eisaid(struct aml *a, const char *name, const char *id)
{
	aml_name(a, name);
	aml_eisaid(a, id);
}

/* Remembers where the PkgLength of the construct just started goes. */
static void
aml_open(struct aml *a, size_t mark)
{
	if (a->a_depth == AML_MAX_DEPTH) {
		a->a_error = a->a_error ? a->a_error : -E2BIG;
		return;
	}
	a->a_open[a->a_depth++] = a->a_len | mark;
}

void
aml_scope_begin(struct aml *a, const char *name)
{
	aml_byte(a, AML_SCOPE);
	aml_open(a, 0);
	aml_namestring(a, name);
}

void
aml_device_begin(struct aml *a, const char *name)
{
	aml_byte(a, AML_EXTPFX);
	aml_byte(a, AML_DEVICE);
	aml_open(a, 0);
	aml_namestring(a, name);
}

void
aml_method_begin(struct aml *a, const char *name, int nargs, int serialized)
{
	aml_byte(a, AML_METHOD);
	aml_open(a, 0);
	aml_namestring(a, name);
	aml_byte(a, (uint8_t)((nargs & 7) | (serialized ? 8 : 0)));
}

void
aml_package_begin(struct aml *a, unsigned n)
{
	aml_byte(a, AML_PACKAGE);
	aml_open(a, 0);
	if (n > 255 && a->a_error == 0)
		a->a_error = -E2BIG;
	aml_byte(a, (uint8_t)n);	/* NumElements */
}

void
aml_buffer_begin(struct aml *a)
{
	aml_byte(a, AML_BUFFER);
	aml_open(a, AML_OPEN_BUFFER);
}

/*
 * PkgLength (20.2.4): counts itself and what follows.  One byte holds up
 * to 63; otherwise bits 7-6 of the first byte give the number of bytes
 * that follow, its bits 3-0 the low nibble, the rest of the length after.
 */
static size_t
aml_pkglength_encode(size_t content, uint8_t out[4])
{
	size_t n, total;

	for (n = 1; n <= 4; n++) {
		total = content + n;
		if (n == 1 && total <= 0x3f) {
			out[0] = (uint8_t)total;
			return (1);
		}
		if (n > 1 && total < ((size_t)1 << (4 + 8 * (n - 1)))) {
			out[0] = (uint8_t)((n - 1) << 6 | (total & 0xf));
			for (size_t i = 1; i < n; i++)
				out[i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
			return (n);
		}
	}
	return (0);
}

void
aml_end(struct aml *a)
{
	uint8_t hdr[4 + 9];
	size_t pos, content, n, m = 0;
	uint8_t size[9];
	bool buffer;

	if (a->a_error != 0)
		return;
	if (a->a_depth == 0) {
		a->a_error = -EINVAL;
		return;
	}
	pos = a->a_open[--a->a_depth];
	buffer = (pos & AML_OPEN_BUFFER) != 0;
	pos &= ~AML_OPEN_BUFFER;
	content = a->a_len - pos;
	if (buffer) {
		/* Buffer: PkgLength BufferSize ByteList (20.2.5.4). */
		m = aml_integer_encode(content, size);
		content += m;
	}
	n = aml_pkglength_encode(content, hdr);
	if (n == 0) {
		a->a_error = -E2BIG;
		return;
	}
	memcpy(hdr + n, size, m);
	if (!aml_reserve(a, n + m))
		return;
	memmove(a->a_buf + pos + n + m, a->a_buf + pos, a->a_len - pos);
	memcpy(a->a_buf + pos, hdr, n + m);
	a->a_len += n + m;
}

void
aml_return(struct aml *a)
{
	aml_byte(a, AML_RETURN);
}

void
aml_store(struct aml *a)
{
	aml_byte(a, AML_STORE);
}

void
aml_arg(struct aml *a, int n)
{
	aml_byte(a, (uint8_t)(AML_ARG0 + (n & 7)));
}

/* I/O Port Descriptor (6.4.2.5), 16-bit decode. */
void
aml_res_io(struct aml *a, uint16_t min, uint16_t max, uint8_t align, uint8_t len)
{
	aml_byte(a, 0x47);
	aml_byte(a, 0x01);
	aml_le(a, min, 2);
	aml_le(a, max, 2);
	aml_byte(a, align);
	aml_byte(a, len);
}

/* IRQ Descriptor without the flags byte (6.4.2.1): edge, active high. */
void
aml_res_irq_noflags(struct aml *a, unsigned irq)
{
	aml_byte(a, 0x22);
	aml_le(a, irq < 16 ? 1u << irq : 0, 2);
}

/* 32-Bit Fixed Memory Range Descriptor (6.4.3.4). */
void
aml_res_memory32_fixed(struct aml *a, int rw, uint32_t base, uint32_t len)
{
	aml_byte(a, 0x86);
	aml_le(a, 9, 2);
	aml_byte(a, rw ? 1 : 0);
	aml_le(a, base, 4);
	aml_le(a, len, 4);
}

/*
 * Address space descriptors (6.4.3.5): resource type, general flags
 * (producer, positive decode, min and max fixed: 0x0c), type flags, then
 * granularity, minimum, maximum, translation and length.
 */
#define	AML_RES_GFLAGS	0x0c

static void
aml_res_addr(struct aml *a, uint8_t tag, int width, uint8_t type, uint8_t tflags,
    uint64_t min, uint64_t max)
{
	aml_byte(a, tag);
	aml_le(a, (uint64_t)(3 + 5 * width), 2);
	aml_byte(a, type);
	aml_byte(a, AML_RES_GFLAGS);
	aml_byte(a, tflags);
	aml_le(a, 0, width);			/* granularity */
	aml_le(a, min, width);
	aml_le(a, max, width);
	aml_le(a, 0, width);			/* translation */
	aml_le(a, max - min + 1, width);	/* length */
}

void
aml_res_word_bus(struct aml *a, uint16_t min, uint16_t max)
{
	aml_res_addr(a, 0x88, 2, 2, 0, min, max);
}

/* I/O type flags: ISA and non-ISA ranges (EntireRange). */
void
aml_res_word_io(struct aml *a, uint16_t min, uint16_t max)
{
	aml_res_addr(a, 0x88, 2, 1, 0x03, min, max);
}

/* Memory type flags: read-write, non-cacheable (0x01) or cacheable (0x03). */
void
aml_res_dword_mem(struct aml *a, int cacheable, uint32_t min, uint32_t max)
{
	aml_res_addr(a, 0x87, 4, 0, cacheable ? 0x03 : 0x01, min, max);
}

void
aml_res_qword_mem(struct aml *a, int cacheable, uint64_t min, uint64_t max)
{
	aml_res_addr(a, 0x8a, 8, 0, cacheable ? 0x03 : 0x01, min, max);
}

/* End Tag (6.4.2.9); a zero checksum means "treat as valid". */
void
aml_res_end(struct aml *a)
{
	aml_byte(a, 0x79);
	aml_byte(a, 0x00);
}
