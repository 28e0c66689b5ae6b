/*
 * acpi_aml.h - a small AML builder (ACPI 6.x, 20 "ACPI Machine Language
 * Specification"; resource descriptors from 6.4), so that the DSDT reads
 * like the ASL it stands for.
 *
 * One growing buffer.  Constructs with a PkgLength (Scope, Device, Method,
 * Package, Buffer) are opened with aml_*_begin() and closed with aml_end();
 * the length is filled in when they close.  Errors (allocation, a name that
 * is no NameString, unbalanced ends) stick in a_error and the caller checks
 * it once, at aml_finish().
 *
 *	aml_scope_begin(a, "\\_SB_");
 *	  aml_device_begin(a, "COM1");
 *	    aml_name(a, "_HID"); aml_eisaid(a, "PNP0501");
 *	  aml_end(a);
 *	aml_end(a);
 */
#ifndef LHYVE_ACPI_AML_H
#define LHYVE_ACPI_AML_H

#include <stddef.h>
#include <stdint.h>

#define	AML_MAX_DEPTH	16

struct aml {
	uint8_t		*a_buf;
	size_t		a_len, a_cap;
	size_t		a_open[AML_MAX_DEPTH];	/* where each PkgLength goes */
	int		a_depth;
	int		a_error;		/* 0 or a negative errno */
};

void	aml_init(struct aml *a);
void	aml_free(struct aml *a);
/* 0 with every construct closed, else the first error (or -EINVAL). */
int	aml_finish(struct aml *a);

void	aml_bytes(struct aml *a, const void *p, size_t n);
void	aml_byte(struct aml *a, uint8_t b);

/* Data objects (20.2.3): the shortest integer encoding, strings, EISAIDs. */
void	aml_integer(struct aml *a, uint64_t v);
void	aml_string(struct aml *a, const char *s);
/* A compressed EISA ID ("PNP0A03", 6.1.5) as a DWord. */
void	aml_eisaid(struct aml *a, const char *id);
uint32_t aml_eisaid_value(const char *id);
/* "\\_SB_.PCI0", "^FOO", "_HID": segments are padded with '_' to 4 chars. */
void	aml_namestring(struct aml *a, const char *name);

/* Name (NAME, <the object that follows>) */
void	aml_name(struct aml *a, const char *name);
void	aml_name_integer(struct aml *a, const char *name, uint64_t v);
void	aml_name_string(struct aml *a, const char *name, const char *s);
void	aml_name_eisaid(struct aml *a, const char *name, const char *id);

void	aml_scope_begin(struct aml *a, const char *name);
void	aml_device_begin(struct aml *a, const char *name);
/* flags: argument count (bits 0-2), bit 3 Serialized (20.2.5.2). */
void	aml_method_begin(struct aml *a, const char *name, int nargs, int serialized);
/* Package (n) { ... }: the caller appends exactly n elements. */
void	aml_package_begin(struct aml *a, unsigned n);
/* Buffer () { ... }: the size is the bytes appended before aml_end(). */
void	aml_buffer_begin(struct aml *a);
void	aml_end(struct aml *a);

/* Statements for method bodies (20.2.5.3, 20.2.5.4). */
void	aml_return(struct aml *a);		/* Return (<next object>) */
void	aml_store(struct aml *a);		/* Store (<src>, <dst>) */
void	aml_arg(struct aml *a, int n);		/* ArgN */

/*
 * Resource templates (6.4): open with aml_buffer_begin(), append
 * descriptors, close with aml_res_end() then aml_end().
 */
void	aml_res_io(struct aml *a, uint16_t min, uint16_t max, uint8_t align,
	    uint8_t len);
void	aml_res_irq_noflags(struct aml *a, unsigned irq);
void	aml_res_memory32_fixed(struct aml *a, int rw, uint32_t base, uint32_t len);
/* Address space descriptors, producer, MinFixed, MaxFixed, PosDecode. */
void	aml_res_word_bus(struct aml *a, uint16_t min, uint16_t max);
void	aml_res_word_io(struct aml *a, uint16_t min, uint16_t max);
void	aml_res_dword_mem(struct aml *a, int cacheable, uint32_t min, uint32_t max);
void	aml_res_qword_mem(struct aml *a, int cacheable, uint64_t min, uint64_t max);
void	aml_res_end(struct aml *a);

#endif /* LHYVE_ACPI_AML_H */
