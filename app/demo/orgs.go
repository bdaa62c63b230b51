package demo

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// Services that act on their own; people are emails on the org's domain.
const (
	svcAgent = "svc-axiom-agent"
	svcCI    = "svc-release-pipeline"
	system   = "system"
)

// cloudAccount is one connected provider account.
type cloudAccount struct {
	provider string
	account  string // AWS account number, Azure subscription id, GCP project id
	role     string // what Axiom assumes or impersonates
	regions  []string
	env      string // "production", "staging", ...
}

// accountResource is the id scans and connection events name.
func (c *cloudAccount) accountResource() string {
	switch c.provider {
	case "aws":
		return "arn:aws:iam::" + c.account + ":root"
	case "azure":
		return "/subscriptions/" + c.account
	default:
		return "//cloudresourcemanager.googleapis.com/projects/" + c.account
	}
}

// orgProfile is an organization: its size, people, clouds and habits.
type orgProfile struct {
	id                string
	domain            string
	tzOffsetMs        int64 // local working hours are tzOffset from UTC
	weight            float64
	clouds            []cloudAccount
	people            []string // people[0:admins] are admins
	admins            int
	approvers         []string
	requiredApprovals int
	environments      []string
	product           string
}

type orgTemplate struct {
	id, domain, product string
	tzHours             int
	weight              float64
	clouds              []string // providers of its accounts, in order
	env                 string
	people, approvals   int
}

var templates = []orgTemplate{
	{"acme-prod", "acme.io", "storefront", -5, 1.0, []string{"aws", "aws", "azure"}, "production", 12, 2},
	{"acme-staging", "acme.io", "storefront", -5, 0.45, []string{"aws"}, "staging", 6, 1},
	{"globex", "globex.com", "billing", 1, 0.7, []string{"gcp", "aws"}, "production", 9, 3},
	{"initech", "initech.co", "tps", -6, 0.3, []string{"azure"}, "production", 5, 2},
	{"umbrella-labs", "umbrella-labs.eu", "lims", 0, 0.25, []string{"gcp", "gcp"}, "production", 6, 2},
	{"hooli", "hooli.xyz", "nucleus", -8, 0.55, []string{"aws", "gcp"}, "production", 10, 2},
	{"stark-industries", "stark.industries", "arc", -5, 0.4, []string{"aws", "azure"}, "production", 8, 3},
	{"wayne-enterprises", "wayne.corp", "foundation", -5, 0.2, []string{"azure"}, "production", 4, 2},
	{"tyrell", "tyrell.ai", "nexus", -8, 0.35, []string{"gcp"}, "production", 5, 2},
	{"cyberdyne", "cyberdyne.systems", "skynet", -8, 0.15, []string{"aws"}, "staging", 3, 1},
}

var (
	firstNames = []string{"alice", "ben", "chloe", "david", "elena", "farid", "grace", "hiro", "isabel", "jamal",
		"kate", "liam", "maya", "noah", "olivia", "priya", "quentin", "rosa", "sam", "tomas", "uma", "victor", "wen", "yusuf", "zoe"}
	lastNames = []string{"nguyen", "carter", "martin", "okafor", "petrova", "haddad", "kim", "tanaka", "rossi", "wright",
		"murphy", "oconnor", "patel", "schmidt", "brown", "shah", "dubois", "alvarez", "taylor", "novak", "iyer", "lindqvist", "zhang", "demir", "fischer"}
	regions = map[string][]string{
		"aws":   {"us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2"},
		"azure": {"eastus", "westeurope", "northeurope", "uksouth"},
		"gcp":   {"us-central1", "europe-west1", "europe-west3", "asia-northeast1"},
	}
)

// newProfiles returns n organizations: the templates first, then numbered
// variants of them ("acme-prod-2"), each a little different.
func newProfiles(n int, seed int64) []*orgProfile {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x6a09e667f3bcc909))
	out := make([]*orgProfile, n)
	for i := range out {
		t := templates[i%len(templates)]
		if round := i / len(templates); round > 0 {
			t.id += "-" + strconv.Itoa(round+1)
			t.weight *= 0.8 / float64(round+1)
		}
		p := &orgProfile{
			id:                t.id,
			domain:            t.domain,
			product:           t.product,
			tzOffsetMs:        int64(t.tzHours) * 3600_000,
			weight:            t.weight,
			requiredApprovals: t.approvals,
			environments:      []string{t.env},
		}
		if t.env == "production" {
			p.environments = append(p.environments, "staging")
		}
		// People: distinct names, the first two are admins.
		perm := rng.Perm(len(firstNames) * len(lastNames))
		seen := map[string]bool{}
		for _, k := range perm {
			first := firstNames[k%len(firstNames)]
			if seen[first] {
				continue
			}
			seen[first] = true
			p.people = append(p.people, first+"."+lastNames[k/len(firstNames)]+"@"+t.domain)
			if len(p.people) == t.people {
				break
			}
		}
		p.admins = 2
		nApprovers := min(len(p.people), t.approvals+2)
		p.approvers = p.people[:nApprovers]
		for j, prov := range t.clouds {
			p.clouds = append(p.clouds, newAccount(rng, prov, t, j))
		}
		out[i] = p
	}
	return out
}

func newAccount(rng *rand.Rand, provider string, t orgTemplate, j int) cloudAccount {
	name := strings.SplitN(t.id, "-", 2)[0]
	env := t.env
	if j > 0 && provider != "azure" {
		env = []string{"shared-services", "data", "security"}[j%3]
	}
	c := cloudAccount{provider: provider, env: env}
	rs := regions[provider]
	first := rng.IntN(len(rs))
	c.regions = []string{rs[first], rs[(first+1+rng.IntN(len(rs)-1))%len(rs)]}
	switch provider {
	case "aws":
		c.account = fmt.Sprintf("%012d", rng.Int64N(899_999_999_999)+100_000_000_000)
		c.role = "arn:aws:iam::" + c.account + ":role/AxiomReadWrite"
	case "azure":
		c.account = fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", rng.Uint32(), rng.IntN(1<<16), rng.IntN(1<<12), 0x8000|rng.IntN(1<<14), rng.Int64N(1<<48))
		c.role = "axiom-remediator (app registration)"
	case "gcp":
		c.account = fmt.Sprintf("%s-%s-%04x", name, env, rng.IntN(1<<16))
		if len(c.account) > 30 {
			c.account = c.account[:30]
		}
		c.role = "axiom-agent@" + c.account + ".iam.gserviceaccount.com"
	}
	return c
}

// density is how busy the organization is at a time, from 0 to 1: working
// hours on weekdays in its own time zone, then evenings, nights, weekends.
func (p *orgProfile) density(ms int64) float64 {
	return densityAt(ms + p.tzOffsetMs)
}

func densityAt(localMs int64) float64 {
	const day = 86400_000
	days := floorDiv(localMs, day)
	hour := (localMs - days*day) / 3600_000
	weekday := (days + 4) % 7 // 1970-01-01 was a Thursday; 0 is Sunday
	if weekday == 0 || weekday == 6 {
		if hour >= 10 && hour < 18 {
			return 0.18
		}
		return 0.08
	}
	switch {
	case hour >= 9 && hour < 18:
		return 1
	case hour >= 7 && hour < 9, hour >= 18 && hour < 22:
		return 0.35
	default:
		return 0.1
	}
}

// workingHours says whether a local time is a weekday between 9 and 18.
func (p *orgProfile) workingHours(ms int64) bool { return p.density(ms) == 1 }

// avgDensity is the mean of densityAt over a week.
var avgDensity = func() float64 {
	sum := 0.0
	for h := int64(0); h < 7*24; h++ {
		sum += densityAt(h * 3600_000)
	}
	return sum / (7 * 24)
}()

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
