package demo

import (
	"fmt"
	"strconv"
)

// change is one remediation of one cloud resource, from the finding that
// motivates it to the states before and after it is applied.
type change struct {
	id           string // the resource id
	resourceType string
	provider     string
	category     string // findingCategory
	severity     string
	confidence   int64
	risk         string // riskLevel of the mutation
	title        string // the recommendation, short
	rationale    string
	impactCents  int64  // monthly; positive saves money, negative costs it
	action       string // what the mutation does
	rollback     string // rollback strategy
	before       []byte
	after        []byte
}

// severityRisk maps a finding's severity to the event's riskLevel.
func severityRisk(sev string) string {
	switch sev {
	case "critical", "high":
		return "high"
	case "medium":
		return "medium"
	}
	return "low"
}

func money(cents int64) []byte {
	return newObj().str("amount", decimal(cents)).str("currency", "USD").bytes()
}

// decimal writes cents as a decimal string ("-18.40"), never a float.
func decimal(cents int64) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	return fmt.Sprintf("%s%d.%02d", sign, cents/100, cents%100)
}

type changeMaker func(g *orgGen, c *cloudAccount, region string) change

var changeMakers = map[string][]changeMaker{
	"aws":   {s3PublicAccessBlock, securityGroupIngress, ec2Rightsize, rdsBackupRetention, iamPolicyWildcard, ebsDeleteUnattached},
	"azure": {azureStorageTLS, azureVMRightsize},
	"gcp":   {gcpFirewall, gceRightsize},
}

// pickChange picks a remediation for a resource in the account.
func (g *orgGen) pickChange(c *cloudAccount, region string) change {
	makers := changeMakers[c.provider]
	ch := makers[g.rng.IntN(len(makers))](g, c, region)
	ch.provider = c.provider
	ch.confidence = 70 + g.rng.Int64N(30)
	return ch
}

func (g *orgGen) pick(xs []string) string { return xs[g.rng.IntN(len(xs))] }

var bucketPurposes = []string{"logs", "assets", "exports", "backups", "data-lake", "invoices", "ml-datasets", "static-site"}

func s3PublicAccessBlock(g *orgGen, c *cloudAccount, region string) change {
	name := g.p.product + "-" + g.pick(bucketPurposes) + "-" + g.hexID("", 6)
	block := func(on bool) []byte {
		return newObj().bool("BlockPublicAcls", on).bool("IgnorePublicAcls", on).bool("BlockPublicPolicy", on).bool("RestrictPublicBuckets", on).bytes()
	}
	state := func(on bool, acl string) []byte {
		return newObj().str("bucket", name).str("region", region).raw("publicAccessBlockConfiguration", block(on)).
			str("acl", acl).str("versioning", "Enabled").int("objectCount", 1000+g.rng.Int64N(900000)).bytes()
	}
	sev := g.pick([]string{"high", "critical", "high"})
	return change{
		id: "arn:aws:s3:::" + name, resourceType: "s3:bucket", category: "public-exposure", severity: sev, risk: "medium",
		title:     "Enable S3 Block Public Access on " + name,
		rationale: "Bucket " + name + " grants public-read through its ACL and has no public access block; enabling all four Block Public Access settings closes the exposure without affecting IAM-authorised readers.",
		action:    "s3:PutPublicAccessBlock", rollback: "restore the previous PublicAccessBlock configuration and ACL from the pre-apply snapshot",
		before: state(false, "public-read"), after: state(true, "private"),
	}
}

func securityGroupIngress(g *orgGen, c *cloudAccount, region string) change {
	sg := g.hexID("sg-", 17)
	vpc := g.hexID("vpc-", 17)
	port := g.pick([]string{"22", "3389", "5432", "6379"})
	p, _ := strconv.ParseInt(port, 10, 64)
	rule := func(cidr, desc string) []byte {
		r := newObj().str("CidrIp", cidr).str("Description", desc).bytes()
		return newObj().str("IpProtocol", "tcp").int("FromPort", p).int("ToPort", p).raw("IpRanges", rawArray([][]byte{r})).bytes()
	}
	https := newObj().str("IpProtocol", "tcp").int("FromPort", 443).int("ToPort", 443).
		raw("IpRanges", rawArray([][]byte{newObj().str("CidrIp", "0.0.0.0/0").str("Description", "public HTTPS").bytes()})).bytes()
	state := func(r []byte) []byte {
		return newObj().str("GroupId", sg).str("GroupName", g.p.product+"-app").str("VpcId", vpc).
			raw("IpPermissions", rawArray([][]byte{https, r})).bytes()
	}
	return change{
		id: "arn:aws:ec2:" + region + ":" + c.account + ":security-group/" + sg, resourceType: "ec2:security-group",
		category: "network-exposure", severity: "high", risk: "high",
		title:     "Restrict port " + port + " on " + sg + " to the corporate VPN range",
		rationale: "Security group " + sg + " allows TCP " + port + " from 0.0.0.0/0; only the corporate VPN (10.20.0.0/16) connects to it in the last 30 days of VPC flow logs.",
		action:    "ec2:RevokeSecurityGroupIngress+AuthorizeSecurityGroupIngress", rollback: "re-authorize the revoked ingress rule from the pre-apply snapshot",
		before: state(rule("0.0.0.0/0", "temporary access")), after: state(rule("10.20.0.0/16", "corporate VPN")),
	}
}

type size struct {
	name      string
	centsHour int64 // hundredths of a cent per hour
}

var ec2Sizes = []size{{"m5.xlarge", 1920}, {"m5.2xlarge", 3840}, {"m5.4xlarge", 7680}, {"c5.2xlarge", 3400}, {"c5.4xlarge", 6800}, {"r5.2xlarge", 5040}, {"r5.4xlarge", 10080}}

// rightsize moves down one size in a family: sizes come in pairs (small,
// large) where the larger is at an odd index or the next one.
func (g *orgGen) rightsize(sizes []size) (from, to size) {
	for {
		i := 1 + g.rng.IntN(len(sizes)-1)
		if sizes[i].centsHour == 2*sizes[i-1].centsHour {
			return sizes[i], sizes[i-1]
		}
	}
}

// monthlyCents is the monthly cost difference (730 hours) in cents.
func monthlyCents(from, to size) int64 { return (from.centsHour - to.centsHour) * 730 / 100 }

func ec2Rightsize(g *orgGen, c *cloudAccount, region string) change {
	id := g.hexID("i-", 17)
	from, to := g.rightsize(ec2Sizes)
	cpu := 4 + g.rng.Float64()*14
	mem := 15 + g.rng.Float64()*20
	state := func(t string) []byte {
		return newObj().str("InstanceId", id).str("InstanceType", t).str("State", "running").str("AvailabilityZone", region+"a").
			float("CpuUtilizationP95", cpu, 1).float("MemoryUtilizationP95", mem, 1).str("Name", g.p.product+"-worker-"+strconv.Itoa(1+g.rng.IntN(12))).bytes()
	}
	return change{
		id: "arn:aws:ec2:" + region + ":" + c.account + ":instance/" + id, resourceType: "ec2:instance",
		category: "cost-optimization", severity: g.pick([]string{"low", "medium"}), risk: "medium",
		title:       "Rightsize " + id + " from " + from.name + " to " + to.name,
		rationale:   fmt.Sprintf("Instance %s ran at %.0f%% CPU and %.0f%% memory (p95) for 14 days; %s halves the capacity and the cost with headroom to spare.", id, cpu, mem, to.name),
		impactCents: monthlyCents(from, to), action: "ec2:ModifyInstanceAttribute(InstanceType)", rollback: "stop the instance and restore the previous instance type",
		before: state(from.name), after: state(to.name),
	}
}

func rdsBackupRetention(g *orgGen, c *cloudAccount, region string) change {
	name := g.p.product + "-" + g.pick([]string{"orders", "users", "ledger", "analytics", "sessions"}) + "-db-" + strconv.Itoa(1+g.rng.IntN(9))
	days := 1 + g.rng.Int64N(6)
	state := func(ret int64) []byte {
		return newObj().str("DBInstanceIdentifier", name).str("Engine", "postgres").str("EngineVersion", "15.7").
			str("DBInstanceClass", "db.r6g.large").int("BackupRetentionPeriod", ret).bool("MultiAZ", g.p.weight > 0.5).
			bool("StorageEncrypted", true).int("AllocatedStorage", 200).bytes()
	}
	return change{
		id: "arn:aws:rds:" + region + ":" + c.account + ":db:" + name, resourceType: "rds:db",
		category: "resilience", severity: "medium", risk: "low",
		title:       "Raise the backup retention of " + name + " to 14 days",
		rationale:   fmt.Sprintf("Database %s keeps automated backups for %s; the recovery objective for production data is 14 days.", name, plural(days, "day")),
		impactCents: -(900 + g.rng.Int64N(2400)), action: "rds:ModifyDBInstance(BackupRetentionPeriod)", rollback: "restore the previous backup retention period",
		before: state(days), after: state(14),
	}
}

func iamPolicyWildcard(g *orgGen, c *cloudAccount, region string) change {
	name := g.p.product + "-" + g.pick([]string{"deploy", "batch", "etl", "reporting"}) + "-policy"
	bucket := "arn:aws:s3:::" + g.p.product + "-" + g.pick(bucketPurposes)
	stmt := func(actions []string, resources []string) []byte {
		return newObj().str("Effect", "Allow").strs("Action", actions).strs("Resource", resources).bytes()
	}
	doc := func(version string, s []byte) []byte {
		d := newObj().str("Version", "2012-10-17").raw("Statement", rawArray([][]byte{s})).bytes()
		return newObj().str("PolicyName", name).str("DefaultVersionId", version).int("AttachmentCount", 1+g.rng.Int64N(4)).raw("Document", d).bytes()
	}
	return change{
		id: "arn:aws:iam::" + c.account + ":policy/" + name, resourceType: "iam:policy",
		category: "identity", severity: g.pick([]string{"critical", "high"}), risk: "high",
		title:     "Replace the wildcard in " + name + " with the actions it uses",
		rationale: "Policy " + name + " allows \"*\" on \"*\"; IAM Access Analyzer saw only s3:GetObject, s3:PutObject and s3:ListBucket used in 90 days.",
		action:    "iam:CreatePolicyVersion+SetDefaultPolicyVersion", rollback: "set the previous policy version as default",
		before: doc("v3", stmt([]string{"*"}, []string{"*"})),
		after:  doc("v4", stmt([]string{"s3:GetObject", "s3:PutObject", "s3:ListBucket"}, []string{bucket, bucket + "/*"})),
	}
}

func ebsDeleteUnattached(g *orgGen, c *cloudAccount, region string) change {
	id := g.hexID("vol-", 17)
	gib := []int64{100, 250, 500, 1000}[g.rng.IntN(4)]
	snap := g.hexID("snap-", 17)
	before := newObj().str("VolumeId", id).int("Size", gib).str("VolumeType", "gp2").str("State", "available").
		raw("Attachments", []byte("[]")).str("AvailabilityZone", region+"b").int("DaysUnattached", 30+g.rng.Int64N(200)).bytes()
	after := newObj().str("VolumeId", id).str("State", "deleted").str("FinalSnapshotId", snap).bytes()
	return change{
		id: "arn:aws:ec2:" + region + ":" + c.account + ":volume/" + id, resourceType: "ec2:volume",
		category: "cost-optimization", severity: "low", risk: "high",
		title:       "Delete unattached volume " + id + " after a final snapshot",
		rationale:   fmt.Sprintf("Volume %s (%d GiB gp2) has been unattached for over 30 days; a final snapshot keeps the data at a fraction of the cost.", id, gib),
		impactCents: gib * 5, action: "ec2:CreateSnapshot+DeleteVolume", rollback: "create a new volume from the final snapshot " + snap,
		before: before, after: after,
	}
}

func azureStorageTLS(g *orgGen, c *cloudAccount, region string) change {
	rg := "rg-" + g.p.product + "-" + c.env
	name := g.p.product + g.pick([]string{"logs", "media", "backup", "diag"}) + g.hexID("", 6)
	state := func(tls string) []byte {
		return newObj().str("name", name).str("location", region).str("kind", "StorageV2").str("minimumTlsVersion", tls).
			bool("supportsHttpsTrafficOnly", true).bool("allowBlobPublicAccess", false).bytes()
	}
	return change{
		id:           "/subscriptions/" + c.account + "/resourceGroups/" + rg + "/providers/Microsoft.Storage/storageAccounts/" + name,
		resourceType: "Microsoft.Storage/storageAccounts", category: "encryption-in-transit", severity: "medium", risk: "medium",
		title:     "Require TLS 1.2 on storage account " + name,
		rationale: "Storage account " + name + " accepts TLS 1.0 and 1.1, which are deprecated; no client negotiated below TLS 1.2 in the last 30 days of diagnostics.",
		action:    "Microsoft.Storage/storageAccounts/write(minimumTlsVersion)", rollback: "restore the previous minimumTlsVersion",
		before: state("TLS1_0"), after: state("TLS1_2"),
	}
}

var azureSizes = []size{{"Standard_D4s_v5", 1920}, {"Standard_D8s_v5", 3840}, {"Standard_E4s_v5", 2520}, {"Standard_E8s_v5", 5040}}

func azureVMRightsize(g *orgGen, c *cloudAccount, region string) change {
	rg := "rg-" + g.p.product + "-" + c.env
	name := "vm-" + g.p.product + "-" + strconv.Itoa(1+g.rng.IntN(20))
	from, to := g.rightsize(azureSizes)
	cpu := 3 + g.rng.Float64()*12
	state := func(s string) []byte {
		return newObj().str("name", name).str("location", region).str("vmSize", s).str("powerState", "running").
			float("avgCpuPercent14d", cpu, 2).bytes()
	}
	return change{
		id:           "/subscriptions/" + c.account + "/resourceGroups/" + rg + "/providers/Microsoft.Compute/virtualMachines/" + name,
		resourceType: "Microsoft.Compute/virtualMachines", category: "cost-optimization", severity: "low", risk: "medium",
		title:       "Resize " + name + " from " + from.name + " to " + to.name,
		rationale:   fmt.Sprintf("VM %s averaged %.0f%% CPU over 14 days; %s fits its peak with 40%% headroom.", name, cpu, to.name),
		impactCents: monthlyCents(from, to), action: "Microsoft.Compute/virtualMachines/write(vmSize)", rollback: "deallocate and restore the previous VM size",
		before: state(from.name), after: state(to.name),
	}
}

func gcpFirewall(g *orgGen, c *cloudAccount, region string) change {
	name := "allow-" + g.pick([]string{"ssh", "rdp", "admin"}) + "-" + g.hexID("", 4)
	state := func(ranges []string) []byte {
		allowed := newObj().str("IPProtocol", "tcp").strs("ports", []string{"22", "3389"}).bytes()
		return newObj().str("name", name).str("network", "projects/"+c.account+"/global/networks/default").str("direction", "INGRESS").
			int("priority", 1000).strs("sourceRanges", ranges).raw("allowed", rawArray([][]byte{allowed})).bool("disabled", false).bytes()
	}
	return change{
		id: "projects/" + c.account + "/global/firewalls/" + name, resourceType: "compute.googleapis.com/Firewall",
		category: "network-exposure", severity: g.pick([]string{"high", "critical"}), risk: "high",
		title:     "Limit firewall rule " + name + " to Identity-Aware Proxy",
		rationale: "Firewall rule " + name + " opens SSH and RDP to 0.0.0.0/0; administrators already connect through IAP (35.235.240.0/20).",
		action:    "compute.firewalls.patch(sourceRanges)", rollback: "patch the rule back to its previous source ranges",
		before: state([]string{"0.0.0.0/0"}), after: state([]string{"35.235.240.0/20"}),
	}
}

var gceSizes = []size{{"n2-standard-4", 1942}, {"n2-standard-8", 3884}, {"e2-standard-4", 1340}, {"e2-standard-8", 2680}}

func gceRightsize(g *orgGen, c *cloudAccount, region string) change {
	zone := region + "-" + g.pick([]string{"a", "b", "c"})
	name := g.p.product + "-" + g.pick([]string{"api", "worker", "cache"}) + "-" + g.hexID("", 4)
	from, to := g.rightsize(gceSizes)
	cpu := 5 + g.rng.Float64()*15
	state := func(s string) []byte {
		return newObj().str("name", name).str("zone", zone).str("machineType", "zones/"+zone+"/machineTypes/"+s).str("status", "RUNNING").
			float("cpuUtilizationP95", cpu/100, 3).bytes()
	}
	return change{
		id: "projects/" + c.account + "/zones/" + zone + "/instances/" + name, resourceType: "compute.googleapis.com/Instance",
		category: "cost-optimization", severity: g.pick([]string{"low", "medium"}), risk: "medium",
		title:       "Resize " + name + " from " + from.name + " to " + to.name,
		rationale:   fmt.Sprintf("Instance %s peaked at %.0f%% CPU (p95) over 14 days; the recommender suggests %s.", name, cpu, to.name),
		impactCents: monthlyCents(from, to), action: "compute.instances.setMachineType", rollback: "stop the instance and restore the previous machine type",
		before: state(from.name), after: state(to.name),
	}
}

// resourceCounts is what a scan of an account saw, by resource type.
func (g *orgGen) resourceCounts(provider string, skip string) ([]byte, int64) {
	var types []string
	switch provider {
	case "aws":
		types = []string{"ec2:instance", "ec2:security-group", "ec2:volume", "iam:policy", "rds:db", "s3:bucket"}
	case "azure":
		types = []string{"Microsoft.Compute/virtualMachines", "Microsoft.Network/networkSecurityGroups", "Microsoft.Sql/servers", "Microsoft.Storage/storageAccounts"}
	default:
		types = []string{"compute.googleapis.com/Firewall", "compute.googleapis.com/Instance", "sqladmin.googleapis.com/Instance", "storage.googleapis.com/Bucket"}
	}
	scale := int64(20 + 200*g.p.weight)
	o := newObj()
	var total int64
	for _, t := range types {
		if t == skip {
			continue
		}
		n := 1 + g.rng.Int64N(scale)
		total += n
		o.int(t, n)
	}
	return o.bytes(), total
}

func scanTypes(provider string) []string {
	switch provider {
	case "aws":
		return []string{"rds:db", "iam:policy"}
	case "azure":
		return []string{"Microsoft.Sql/servers"}
	}
	return []string{"sqladmin.googleapis.com/Instance"}
}

func plural(n int64, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.FormatInt(n, 10) + " " + unit + "s"
}
