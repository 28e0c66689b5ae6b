/*
 * pci_hostbridge.c - the host-PCI bridge at 0:0:0 (bhyve's
 * pci_hostbridge.c): "hostbridge" with NetApp's ids and "amd_hostbridge",
 * the same device with AMD ids for guests that insist on an AMD host bridge.
 */
#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "pci_emul.h"

#define	HOSTBRIDGE_VENDOR	0x1275	/* NetApp */
#define	HOSTBRIDGE_DEVICE	0x1275
#define	AMD_HOSTBRIDGE_VENDOR	"0x1022"	/* AMD */
#define	AMD_HOSTBRIDGE_DEVICE	"0x7432"	/* made up, as bhyve's */

/* Reads an id override ("vendor", "devid") from the device's config node. */
static int
pci_hostbridge_id(struct pci_devinst *pi, const char *node, const char *name,
    uint16_t def, uint16_t *idp)
{
	const char *s;
	char *end;
	unsigned long v;

	*idp = def;
	s = get_config_value_node(pi->pi_vm->cfg, node, name);
	if (s == NULL)
		return (0);
	v = strtoul(s, &end, 0);
	if (*s == '\0' || *end != '\0' || v > 0xffff) {
		fprintf(stderr, "bhyve: %s: invalid %s '%s'\n", pi->pi_name,
		    name, s);
		return (-1);
	}
	*idp = (uint16_t)v;
	return (0);
}

static int
pci_hostbridge_init(struct pci_devinst *pi, const char *node)
{
	uint16_t vendor, device;

	if (pci_hostbridge_id(pi, node, "vendor", HOSTBRIDGE_VENDOR,
	    &vendor) != 0 ||
	    pci_hostbridge_id(pi, node, "devid", HOSTBRIDGE_DEVICE,
	    &device) != 0)
		return (-1);
	pci_set_cfgdata16(pi, PCIR_VENDOR, vendor);
	pci_set_cfgdata16(pi, PCIR_DEVICE, device);
	pci_set_cfgdata8(pi, PCIR_HDRTYPE, PCIM_HDRTYPE_NORMAL);
	pci_set_cfgdata8(pi, PCIR_CLASS, PCIC_BRIDGE);
	pci_set_cfgdata8(pi, PCIR_SUBCLASS, PCIS_BRIDGE_HOST);
	return (pci_emul_add_pciecap(pi, PCIEM_TYPE_ROOT_PORT) == 0 ? 0 : -1);
}

/* -s N,amd_hostbridge is a hostbridge with AMD's ids (bhyve's pe_alias). */
static int
pci_amd_hostbridge_legacy_config(struct config *cfg, const char *node,
    const char *opts)
{

	if (set_config_value_node(cfg, node, "vendor",
	    AMD_HOSTBRIDGE_VENDOR) != 0 ||
	    set_config_value_node(cfg, node, "devid",
	    AMD_HOSTBRIDGE_DEVICE) != 0)
		return (-1);
	return (pci_parse_legacy_config(cfg, node, opts));
}

static const struct pci_devemu pci_de_amd_hostbridge = {
	.pe_emu = "amd_hostbridge",
	.pe_alias = "hostbridge",
	.pe_legacy_config = pci_amd_hostbridge_legacy_config,
	.pe_init = pci_hostbridge_init,
};
PCI_EMUL_SET(pci_de_amd_hostbridge);

static const struct pci_devemu pci_de_hostbridge = {
	.pe_emu = "hostbridge",
	.pe_init = pci_hostbridge_init,
};
PCI_EMUL_SET(pci_de_hostbridge);
