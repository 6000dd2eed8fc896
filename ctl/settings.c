/*
 * kmctl's remote settings: from flags, then KMCTL_* variables, then the
 * config file (~/.kmctl.conf), the first found winning.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "kmctl.h"
#include "util.h"

/* One setting: its global option, variable and config-file key. */
static const struct setting {
	enum gopt	 opt;
	const char	*env;
	const char	*key;
} settings[] = {
	{ G_URL, "KMCTL_URL", "url" },
	{ G_USER, "KMCTL_USER", "user" },
	{ G_PASSWORD, "KMCTL_PASSWORD", "password" },
	{ G_CACERT, "KMCTL_CACERT", "cacert" },
	{ G_NOSSLVERIFY, "KMCTL_NOSSLVERIFY", "nosslverify" },
	{ G_TIMEOUT, "KMCTL_TIMEOUT", "timeout" },
};
#define NSETTINGS	(sizeof(settings) / sizeof(settings[0]))

static int
rerr(struct remote *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
rerr(struct remote *r, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
	return -1;
}

static char *
trim(char *s)
{
	char	*e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/*
 * "key = value" lines, '#' comments.  A file that holds a password must
 * be readable by its owner only, as ssh insists for its keys.
 */
static int
read_config(struct remote *r, const char *path, int must, char
    vals[NSETTINGS][1024])
{
	struct stat	 st;
	FILE		*f;
	char		 line[2048], *k, *v, *eq;
	size_t		 i;
	int		 lineno = 0, havepw = 0;

	if ((f = fopen(path, "re")) == NULL) {
		/* The default file is optional, and HOME may be another's. */
		if (!must && (errno == ENOENT || errno == EACCES ||
		    errno == ENOTDIR))
			return 0;
		return rerr(r, "cannot read %s: %s", path, strerror(errno));
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			fclose(f);
			return rerr(r, "%s:%d: line too long", path, lineno);
		}
		k = trim(line);
		if (*k == '#' || *k == '\0')
			continue;
		if ((eq = strchr(k, '=')) == NULL) {
			fclose(f);
			return rerr(r, "%s:%d: expected 'key = value'", path,
			    lineno);
		}
		*eq = '\0';
		k = trim(k);
		v = trim(eq + 1);
		for (i = 0; i < NSETTINGS; i++)
			if (strcmp(settings[i].key, k) == 0)
				break;
		if (i == NSETTINGS) {
			fclose(f);
			return rerr(r, "%s:%d: unknown key '%s'; valid keys:"
			    " url user password cacert nosslverify timeout",
			    path, lineno, k);
		}
		if (settings[i].opt == G_PASSWORD)
			havepw = 1;
		if (vals[i][0] == '\0')
			kmd_strlcpy(vals[i], v, sizeof(vals[i]));
	}
	if (havepw && fstat(fileno(f), &st) == 0 && (st.st_mode & 077) != 0) {
		fclose(f);
		return rerr(r, "%s holds a password but others can read it:"
		    " chmod 600 %s", path, path);
	}
	explicit_bzero(line, sizeof(line));
	fclose(f);
	return 0;
}

static int
boolean(const char *v, int *out)
{
	if (strcmp(v, "") == 0 || strcmp(v, "1") == 0 ||
	    strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0)
		*out = 1;
	else if (strcmp(v, "0") == 0 || strcasecmp(v, "no") == 0 ||
	    strcasecmp(v, "false") == 0)
		*out = 0;
	else
		return -1;
	return 0;
}

static int
store(struct remote *r, enum gopt opt, const char *v, const char *from)
{
	char	*end;
	long	 n;

	switch (opt) {
	case G_URL:
		if (strncmp(v, "https://", 8) != 0 || v[8] == '\0')
			return rerr(r, "%s: '%s' is not an https:// URL", from,
			    v);
		if (kmd_strlcpy(r->url, v, sizeof(r->url)) >= sizeof(r->url))
			return rerr(r, "%s: the URL is too long", from);
		break;
	case G_USER:
		if (kmd_strlcpy(r->user, v, sizeof(r->user)) >=
		    sizeof(r->user))
			return rerr(r, "%s: the user name is too long", from);
		break;
	case G_PASSWORD:
		if (kmd_strlcpy(r->password, v, sizeof(r->password)) >=
		    sizeof(r->password))
			return rerr(r, "%s: the password is too long", from);
		break;
	case G_CACERT:
		if (kmd_strlcpy(r->cacert, v, sizeof(r->cacert)) >=
		    sizeof(r->cacert))
			return rerr(r, "%s: the path is too long", from);
		break;
	case G_NOSSLVERIFY:
		if (boolean(v, &r->nosslverify) == -1)
			return rerr(r, "%s: nosslverify is yes or no, not"
			    " '%s'", from, v);
		break;
	case G_TIMEOUT:
		n = strtol(v, &end, 10);
		if (*v == '\0' || *end != '\0' || n < 1 || n > 3600)
			return rerr(r, "%s: the timeout is 1 to 3600 seconds,"
			    " not '%s'", from, v);
		r->timeout = (int)n;
		break;
	default:
		break;
	}
	return 0;
}

/* Merge flags, environment and config file into r; r->url "" is local. */
int
remote_settings(const struct parse_result *res, struct remote *r)
{
	static char	 vals[NSETTINGS][1024];
	const char	*from[NSETTINGS], *cfg, *home;
	char		 path[1024], where[1100];
	size_t		 i;
	int		 must = 1, ret = 0;

	memset(r, 0, sizeof(*r));
	memset(vals, 0, sizeof(vals));
	r->timeout = KMCTL_TIMEOUT;
	for (i = 0; i < NSETTINGS; i++) {
		from[i] = NULL;
		if (res->global[settings[i].opt] != NULL) {
			kmd_strlcpy(vals[i], res->global[settings[i].opt],
			    sizeof(vals[i]));
			from[i] = "--";
		} else if (getenv(settings[i].env) != NULL) {
			kmd_strlcpy(vals[i], getenv(settings[i].env),
			    sizeof(vals[i]));
			from[i] = settings[i].env;
		}
		/* "--nosslverify" is given as "": still a value. */
		if (from[i] != NULL && vals[i][0] == '\0' &&
		    settings[i].opt == G_NOSSLVERIFY)
			kmd_strlcpy(vals[i], "yes", sizeof(vals[i]));
	}
	if ((cfg = res->global[G_CONFIG]) == NULL &&
	    (cfg = getenv("KMCTL_CONFIG")) == NULL) {
		must = 0;
		if ((home = getenv("HOME")) == NULL || *home == '\0')
			home = getpwuid(getuid()) ? getpwuid(getuid())->pw_dir :
			    "/";
		snprintf(path, sizeof(path), "%s/.kmctl.conf", home);
		cfg = path;
	}
	if (read_config(r, cfg, must, vals) == -1)
		ret = -1;
	for (i = 0; ret == 0 && i < NSETTINGS; i++) {
		if (vals[i][0] == '\0')
			continue;
		if (from[i] != NULL && strcmp(from[i], "--") == 0)
			snprintf(where, sizeof(where), "--%s",
			    gopt_name(settings[i].opt));
		else
			snprintf(where, sizeof(where), "%s", from[i] ? from[i] :
			    cfg);
		ret = store(r, settings[i].opt, vals[i], where);
	}
	explicit_bzero(vals, sizeof(vals));
	/*
	 * The reference's cluster new --host=H --url=U --user=... --password=...:
	 * a login given with the node's own URL and no other is made there.
	 */
	if (ret == 0 && r->url[0] == '\0' && res->action == A_CLUSTER_NEW &&
	    res->flag[F_URL] != NULL && (r->user[0] != '\0' ||
	    res->global[G_PASSWORD] != NULL))
		ret = store(r, G_URL, res->flag[F_URL], "--url");
	/* --cacert and --nosslverify also serve fulljoin's joining node. */
	if (ret == 0 && r->url[0] == '\0' && (r->user[0] != '\0' ||
	    res->global[G_PASSWORD] != NULL))
		return rerr(r, "--user and --password are for the API: give"
		    " --url too (or KMCTL_URL)");
	return ret;
}

/* Settings from one config file only (fulljoin's --newnodeconfig). */
int
remote_config_file(const char *path, struct remote *r)
{
	static char	 vals[NSETTINGS][1024];
	size_t		 i;
	int		 ret;

	memset(r, 0, sizeof(*r));
	memset(vals, 0, sizeof(vals));
	r->timeout = KMCTL_TIMEOUT;
	ret = read_config(r, path, 1, vals);
	for (i = 0; ret == 0 && i < NSETTINGS; i++)
		if (vals[i][0] != '\0')
			ret = store(r, settings[i].opt, vals[i], path);
	explicit_bzero(vals, sizeof(vals));
	if (ret == 0 && r->url[0] == '\0')
		return rerr(r, "%s names no url", path);
	return ret;
}
