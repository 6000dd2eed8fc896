/*
 * libFuzzer target: a joining node's certificate request as nodes create
 * reads it (common/cert.c csr_parse), from any bytes.  Properties: it is
 * refused with a reason, or accepted with a node id in the form of a UUID
 * and the 32-byte sealing key.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "cert.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	X509_REQ	*r;
	uint8_t		 pk[CSR_BOXPK_LEN];
	char		*pem, id[64], err[256];

	if (size > 16384 || (pem = malloc(size + 1)) == NULL)
		return 0;
	memcpy(pem, data, size);
	pem[size] = '\0';
	err[0] = id[0] = '\0';
	if ((r = csr_parse(pem, id, sizeof(id), pk, err, sizeof(err))) ==
	    NULL) {
		if (err[0] == '\0')
			abort();
	} else {
		if (strlen(id) != 36 || id[8] != '-' || id[23] != '-')
			abort();
		X509_REQ_free(r);
	}
	free(pem);
	return 0;
}
