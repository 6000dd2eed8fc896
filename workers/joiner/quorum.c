/*
 * The quorum rule of the membership lease (lease.c has the protocol and
 * its proof): pure, so that the unit tests read it alone.
 */
#include "lease.h"

/*
 * Whether the grants make a quorum: granted[i] for voter i, in the
 * voters' order (oldest first); self, the holder's index when it is a
 * voter (else -1), whose own grant is needed too: its change commits on
 * its own database, under that grant (kmd_lease_commit).  Pure, for the
 * unit tests.
 */
int
lease_quorum(int n, const int *granted, enum lease_need need, int self)
{
	int	 i, g = 0;

	for (i = 0; i < n; i++)
		g += granted[i] != 0;
	if (n <= 0 || (self >= 0 && (self >= n || !granted[self])))
		return 0;
	switch (need) {
	case LEASE_ALL:
		return g == n;
	case LEASE_MAJORITY_OR_TIE:
		if (n == 2 && granted[0])
			return 1;
		/* FALLTHROUGH */
	case LEASE_MAJORITY:
		return 2 * g > n;
	}
	return 0;
}
