/*
 * pm.h - bhyve's power management ports: reset control, ACPI PM1a event
 * and control blocks, SMI command port and PM timer.
 */
#ifndef LHYVE_PM_H
#define LHYVE_PM_H

struct bhyve_vm;

/* PM1 status and enable bits (ACPI 6.x, 4.8.3.1). */
#define	PM1_TMR_STS	0x0001
#define	PM1_BM_STS	0x0010
#define	PM1_GBL_STS	0x0020
#define	PM1_PWRBTN_STS	0x0100
#define	PM1_SLPBTN_STS	0x0200
#define	PM1_RTC_STS	0x0400
#define	PM1_WAK_STS	0x8000

#define	PM1_TMR_EN	0x0001
#define	PM1_GBL_EN	0x0020
#define	PM1_PWRBTN_EN	0x0100
#define	PM1_SLPBTN_EN	0x0200
#define	PM1_RTC_EN	0x0400

/* PM1 control bits (ACPI 6.x, 4.8.3.2.1). */
#define	PM1_SCI_EN	0x0001
#define	PM1_SLP_TYP	0x1c00
#define	PM1_SLP_EN	0x2000
#define	PM1_ALWAYS_ZERO	0xc003

#define	PM_SLP_TYP_S5	5	/* bhyve's \_S5 package */
#define	PM_TMR_FREQ	3579545	/* Hz (ACPI 6.x, 4.8.2.1) */

#define	RST_CNT_SYS_RST	0x02	/* hard (1) or soft (0) reset */
#define	RST_CNT_RST_CPU	0x04	/* writing 1 starts the reset */

int	pm_init(struct bhyve_vm *bvm);
void	pm_fini(struct bhyve_vm *bvm);

#endif /* LHYVE_PM_H */
