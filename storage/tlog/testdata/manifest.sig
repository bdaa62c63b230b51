axiom-audit-export-manifest/v1
axiom-audit/0193c2f4-7d1e-7a4b-9c55-0d2f6a1b9e33/org_acme
0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef

— axiom-audit/0193c2f4-7d1e-7a4b-9c55-0d2f6a1b9e33 D4Y+XI0KJFExBAvztKG+THslQVJOb5lXjpAEDg1u2+5jIzwX+lybdJLPOOSNdBLBQ39jbAvz/Zz4j2h7+zM7wKOVmgo=
