-- Argo CD health of a WhisperPool (whisperprod.io/v1alpha1).
local hs = {status = "Progressing", message = "waiting for the operator"}
if obj.status == nil or obj.status.conditions == nil then
  return hs
end
local generation = obj.metadata.generation
if generation ~= nil and obj.status.observedGeneration ~= nil and obj.status.observedGeneration < generation then
  hs.message = "the operator has not seen the latest spec yet"
  return hs
end
local ready, progressing = nil, nil
for _, condition in ipairs(obj.status.conditions) do
  if condition.type == "Ready" then ready = condition end
  if condition.type == "Progressing" then progressing = condition end
end
if ready == nil then
  return hs
end
if ready.status == "True" then
  if progressing ~= nil and progressing.status == "True" then
    hs.message = "serving while rolling out: " .. (progressing.message or "")
    return hs
  end
  hs.status = "Healthy"
  hs.message = ready.message or "ready"
  return hs
end
if ready.reason == "ScaledToZero" then
  hs.status = "Suspended"
  hs.message = ready.message or "scaled to zero"
elseif ready.reason == "DeploymentMissing" or (progressing ~= nil and progressing.status == "True") then
  hs.message = ready.message or "starting"
else
  hs.status = "Degraded"
  hs.message = ready.message or "no ready replica"
end
return hs
