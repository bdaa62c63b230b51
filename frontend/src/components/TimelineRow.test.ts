import { describe, expect, it } from 'vitest'
import { shortResource } from './TimelineRow'

describe('shortResource', () => {
  it.each([
    ['arn:aws:ec2:eu-west-1:123456789012:instance/i-0abc123', 'i-0abc123'],
    ['arn:aws:s3:::bucket-00042', 'bucket-00042'],
    ['/subscriptions/1/resourceGroups/rg-prod/providers/Microsoft.Compute/virtualMachines/vm-web-1', 'vm-web-1'],
    ['projects/p/zones/europe-west1-b/instances/vm-1', 'vm-1'],
    // A bare number or a very short last segment keeps the one before.
    ['/subscriptions/1/rg/0', 'rg/0'],
    ['cluster/ns/pods/42', 'pods/42'],
    ['a/b/c', 'a/b/c'],
    ['db', 'db'],
    ['bucket-1/', 'bucket-1'],
    ['plain-name', 'plain-name'],
    ['', ''],
    // Runs of separators are one; an id of separators alone is shown as is.
    ['arn:aws:s3:::0', 's3:::0'],
    // A name many resources share keeps what tells them apart.
    ['arn:aws:iam::136716732091:root', '136716732091:root'],
    ['projects/p/networks/default', 'networks/default'],
    ['/', '/'],
    [':', ':'],
    ['//', '//'],
  ])('%s → %s', (id, want) => {
    expect(shortResource(id)).toBe(want)
  })
})
